"""borrower vault: personal data sealed per borrower, data keys, sealed free text, the
do-not-contact register and the erasure record (DESIGN §10).

Revision ID: 0005_borrower_vault
Revises: 0004_borrower_links
Create Date: 2026-12-02 03:38:37.232600
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_borrower_vault"
down_revision: str | None = "0004_borrower_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "borrower_keys",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_borrower_keys")),
    )
    with op.batch_alter_table("borrower_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_borrower_keys_kek_id"), ["kek_id"], unique=False)

    op.create_table(
        "do_not_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hmac", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_contact")),
        sa.UniqueConstraint(
            "phone_hmac", "channel", name=op.f("uq_do_not_contact_phone_hmac_channel")
        ),
    )
    with op.batch_alter_table("do_not_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_do_not_contact_phone_hmac"), ["phone_hmac"], unique=False
        )

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("texts", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_borrower_id"), ["borrower_id"], unique=False)

    op.create_table(
        "sealed_texts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sealed_texts")),
    )
    with op.batch_alter_table("sealed_texts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sealed_texts_borrower_id"), ["borrower_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sealed_texts_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("phone_hmac", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_borrowers_phone_hmac"), ["phone_hmac"], unique=False)

    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.drop_column("body_sha256")

    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_borrowers_phone_hmac"))
        batch_op.drop_column("phone_hmac")
        batch_op.drop_column("sealed")

    with op.batch_alter_table("sealed_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sealed_texts_case_id"))
        batch_op.drop_index(batch_op.f("ix_sealed_texts_borrower_id"))

    op.drop_table("sealed_texts")
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_borrower_id"))

    op.drop_table("erasures")
    with op.batch_alter_table("do_not_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_do_not_contact_phone_hmac"))

    op.drop_table("do_not_contact")
    with op.batch_alter_table("borrower_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_borrower_keys_kek_id"))

    op.drop_table("borrower_keys")
