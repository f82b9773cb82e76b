"""export heads: the timeline head of every audit export, recorded at export.

Revision ID: 0003_export_heads
Revises: 0002_users_and_sessions
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_export_heads"
down_revision: str | None = "0002_users_and_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("timeline_head", sa.String(length=64), nullable=False),
        sa.Column("manifest_seal", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_heads")),
        sa.UniqueConstraint(
            "workflow_id",
            "timeline_head",
            "manifest_seal",
            name=op.f("uq_export_heads_workflow_id_timeline_head_manifest_seal"),
        ),
    )
    op.create_index(op.f("ix_export_heads_workflow_id"), "export_heads", ["workflow_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_export_heads_workflow_id"), table_name="export_heads")
    op.drop_table("export_heads")
