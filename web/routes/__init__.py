"""The screens' routes, one module per area."""
