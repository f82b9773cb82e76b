"""sync order: the workflow task that wrote a case's row (its clock and the history's length
then), so a later task's sync replaces what a task Temporal undid had written.

Rows written before keep both empty; the event number decides for them, as before.

Revision ID: 0007_sync_order
Revises: 0006_ledger_recipient
Create Date: 2026-12-02 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_sync_order"
down_revision: str | None = "0006_ledger_recipient"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("synced_history", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("synced_history")
        batch_op.drop_column("synced_at")
