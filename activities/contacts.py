"""The exactly-once contact ledger: one ``contact_attempts`` row per idempotency key.

A send claims its key by inserting a ``recorded`` row *before* the provider call and completes
it after (SID and ``sent``). A later attempt for the same key finds the row and never sends
again: a completed row is answered from the ledger; a row still ``recorded`` means an earlier
attempt stopped between the provider call and the record, so the outcome is unknown and the row
is marked ``unknown`` (DESIGN §5: a missed reminder is better than harassment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from activities.db import Database
from activities.sql import insert_for, table_of
from models.common import Channel
from models.tables import AttemptStatus, ContactAttempt, utc_now

# A provider status callback may already have moved a sent row on; it was still sent.
SENT_STATUSES = frozenset(
    {
        AttemptStatus.SENT,
        AttemptStatus.DELIVERED,
        AttemptStatus.ANSWERED,
        AttemptStatus.UNANSWERED,
        AttemptStatus.FAILED,
        AttemptStatus.UNDELIVERED,
    }
)
INTERRUPTED = (
    "an earlier attempt stopped between the provider call and its record; "
    "the outcome is unknown and it is not resent"
)
_PHONE = re.compile(r"\+?\d{6,15}")


def mask_phone(phone: str) -> str:
    """``+8613800138000`` -> ``+86*******8000``: enough to tell numbers apart in logs."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_phones_in(text: str) -> str:
    """Provider messages quote the number ("The 'To' number +86... is not valid")."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


@dataclass(frozen=True)
class Attempt:
    """What the ledger knows of an earlier attempt for the same key."""

    status: AttemptStatus
    provider_sid: str | None
    error_code: str | None
    reason: str


@dataclass(frozen=True)
class Claim:
    """Either this call owns the send (``attempt_id``) or an earlier attempt did (``previous``)."""

    attempt_id: int | None = None
    previous: Attempt | None = None


class ContactLedger:
    """Every statement on ``contact_attempts``; each method is one short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, *, key: str, case_id: str, channel: Channel, to: str, body: str) -> Claim:
        """Insert the ``recorded`` row, or return the earlier attempt for this key.

        An earlier attempt still ``recorded`` is marked ``unknown`` in the same transaction.
        """
        now = utc_now()
        contact_attempts = table_of(ContactAttempt)
        insert = (
            insert_for(self.db, contact_attempts)
            .values(
                idempotency_key=key,
                case_id=case_id,
                channel=channel.value,
                to_number=to,
                body=body,
                status=AttemptStatus.RECORDED.value,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[contact_attempts.c.idempotency_key])
            .returning(contact_attempts.c.id)
        )
        async with self.db.session() as session:
            inserted = (await session.exec(insert)).first()
            if inserted is not None:
                await session.commit()
                return Claim(attempt_id=int(inserted[0]))
            row = (
                await session.exec(
                    select(ContactAttempt)
                    .where(ContactAttempt.idempotency_key == key)
                    .with_for_update()
                )
            ).one()
            if row.status is AttemptStatus.RECORDED:
                row.status = AttemptStatus.UNKNOWN
                row.reason = INTERRUPTED
                session.add(row)
            await session.commit()
            return Claim(
                previous=Attempt(
                    status=AttemptStatus(row.status),
                    provider_sid=row.provider_sid,
                    error_code=row.error_code,
                    reason=row.reason or "",
                )
            )

    async def record_sent(self, attempt_id: int, provider_sid: str) -> None:
        """The provider accepted it. Also over ``unknown``: the ledger keeps what happened."""
        await self._update(
            attempt_id,
            (AttemptStatus.RECORDED, AttemptStatus.UNKNOWN),
            status=AttemptStatus.SENT.value,
            provider_sid=provider_sid,
        )

    async def record_rejected(self, attempt_id: int, code: str | None, reason: str) -> None:
        await self._update(
            attempt_id,
            (AttemptStatus.RECORDED,),
            status=AttemptStatus.REJECTED.value,
            error_code=code,
            reason=reason,
        )

    async def mark_unknown(self, attempt_id: int, reason: str) -> None:
        await self._update(
            attempt_id, (AttemptStatus.RECORDED,), status=AttemptStatus.UNKNOWN.value, reason=reason
        )

    async def release(self, attempt_id: int) -> None:
        """Nothing reached the provider: free the key so the retry is a clean first attempt."""
        contact_attempts = table_of(ContactAttempt)
        statement = sa.delete(contact_attempts).where(
            contact_attempts.c.id == attempt_id,
            contact_attempts.c.status == AttemptStatus.RECORDED.value,
        )
        async with self.db.session() as session:
            await session.exec(statement)
            await session.commit()

    async def _update(
        self, attempt_id: int, when: tuple[AttemptStatus, ...], **values: Any
    ) -> None:
        contact_attempts = table_of(ContactAttempt)
        statement = (
            sa.update(contact_attempts)
            .where(contact_attempts.c.id == attempt_id)
            .where(contact_attempts.c.status.in_([s.value for s in when]))
            .values(**values, updated_at=utc_now())
        )
        async with self.db.session() as session:
            await session.exec(statement)
            await session.commit()
