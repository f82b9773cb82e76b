"""borrower links: the borrower's own page, and the year of birth that can confirm it.

Revision ID: 0004_borrower_links
Revises: 0003_export_heads
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_borrower_links"
down_revision: str | None = "0003_export_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("borrowers") as batch:
        batch.add_column(sa.Column("birth_year", sa.Integer(), nullable=True))
    op.create_table(
        "borrower_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=80), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("contact_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("failed_tries", sa.Integer(), nullable=False),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_borrower_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_borrower_links_token_hash")),
        sa.UniqueConstraint("contact_key", name=op.f("uq_borrower_links_contact_key")),
    )
    op.create_index(op.f("ix_borrower_links_case_id"), "borrower_links", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_borrower_links_case_id"), table_name="borrower_links")
    op.drop_table("borrower_links")
    with op.batch_alter_table("borrowers") as batch:
        batch.drop_column("birth_year")
