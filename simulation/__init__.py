"""Portfolio simulation: seeded borrower behaviour run through the real case workflow."""
