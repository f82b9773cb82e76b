"""The do-not-contact register: opt-outs by phone fingerprint (HMAC) and channel.

Written when a borrower opts out (STOP, cease-contact, a channel opt-out) and read before any
contact: by the API when a case starts (the new case opens opted out) and by the send activity
(a contact to a registered number is skipped and recorded as blocked). Keyed by the HMAC, not
by borrower or case, so it outlives both and survives erasure.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import select

from activities.db import Database
from activities.sql import insert_for, table_of
from models.common import Channel
from models.vault_tables import DoNotContact

BLOCKED_REASON = "the number is on the do-not-contact register ({channel}: {reason})"


async def register(
    db: Database, phone_hmac: str, channels: list[Channel], reason: str, source: str
) -> None:
    register_table = table_of(DoNotContact)
    async with db.session() as session:
        for channel in channels:
            insert = insert_for(db, register_table).values(
                phone_hmac=phone_hmac,
                channel=channel.value,
                reason=reason[:64],
                source=source[:80],
                created_at=datetime.now(UTC),
            )
            await session.exec(
                insert.on_conflict_do_nothing(
                    index_elements=[register_table.c.phone_hmac, register_table.c.channel]
                )
            )
        await session.commit()


async def forget(db: Database, phone_hmac: str, channel: Channel) -> None:
    """The borrower opted back in (START): that channel leaves the register."""
    register_table = table_of(DoNotContact)
    async with db.session() as session:
        await session.exec(
            sa.delete(register_table).where(
                register_table.c.phone_hmac == phone_hmac,
                register_table.c.channel == channel.value,
            )
        )
        await session.commit()


async def entries(db: Database, phone_hmac: str) -> dict[Channel, str]:
    """The registered channels of a number and why."""
    async with db.session() as session:
        rows = (
            await session.exec(select(DoNotContact).where(DoNotContact.phone_hmac == phone_hmac))
        ).all()
    return {Channel(row.channel): row.reason for row in rows}
