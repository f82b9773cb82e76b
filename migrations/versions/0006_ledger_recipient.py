"""ledger recipient sealed: the number each contact went to is kept sealed under the
borrower's key (``to_sealed``, with ``borrower_id`` to open it), like the text (DESIGN §10).

Rows written before keep ``to_number`` in clear; erasure empties both.

Revision ID: 0006_ledger_recipient
Revises: 0005_borrower_vault
Create Date: 2026-12-02 06:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ledger_recipient"
down_revision: str | None = "0005_borrower_vault"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_sealed", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("borrower_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.drop_column("borrower_id")
        batch_op.drop_column("to_sealed")
