"""The exactly-once contact ledger: one ``contact_attempts`` row per idempotency key.

A send claims its key by inserting a ``recorded`` row *before* the provider call and completes
it after (SID and ``sent``). A later attempt for the same key finds the row and never sends
blindly: a completed row is answered from the ledger; a row still ``recorded`` or ``unknown``
(an earlier attempt stopped between the provider call and the record, or timed out) comes back
as ``pending`` and is reconciled against Twilio's own record first (``activities/reconcile.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from activities.sql import insert_for, table_of
from activities.vault.outgoing import open_ledger_to
from activities.vault.store import Vault
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
RECONCILED = "reconciled: Twilio's own list holds this send"
RESENT = "Twilio's own list held no send for this attempt after it settled; sent again"
_PHONE = re.compile(r"\+?\d{6,15}")


def _pending(row: ContactAttempt) -> Pending:
    if row.id is None:
        raise ValueError("a stored attempt has an id")
    return Pending(
        attempt_id=row.id,
        status=AttemptStatus(row.status),
        channel=Channel(row.channel),
        to=row.to_number,
        body=row.body,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        version=row.updated_at,
        body_sha256=row.body_sha256,
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; the ledger writes them in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
    # The hash of the text that attempt sent (a sealed row): the case keeps what went out, not
    # what this retry rendered.
    body_sha256: str | None = None


@dataclass(frozen=True)
class Pending:
    """An earlier attempt with no provider answer on record: reconcile before anything else."""

    attempt_id: int
    status: AttemptStatus
    channel: Channel
    to: str
    body: str
    created_at: datetime
    updated_at: datetime
    # ``updated_at`` exactly as the database returned it: compared back by ``take_over``.
    version: datetime
    # Since the vault ``body`` is sealed in the row: reconciliation compares this hash instead.
    body_sha256: str | None = None

    def same_text(self, sent: str) -> bool:
        if self.body_sha256 is not None:
            return hashlib.sha256(sent.encode()).hexdigest() == self.body_sha256
        return sent == self.body


@dataclass(frozen=True)
class Resend:
    """What a send that takes a pending attempt over writes on its row, as the ledger stores
    it: the number (or "" and the number sealed) and the text (or sealed, with its hash)."""

    to: str
    to_sealed: str | None
    body: str
    body_sha256: str | None


@dataclass(frozen=True)
class Claim:
    """This call owns the send (``attempt_id``), an earlier attempt did (``previous``), or an
    earlier attempt's outcome must first be looked up at the provider (``pending``)."""

    attempt_id: int | None = None
    previous: Attempt | None = None
    pending: Pending | None = None


PENDING_STATUSES = (AttemptStatus.RECORDED, AttemptStatus.UNKNOWN)


class ContactLedger:
    """Every statement on ``contact_attempts``; each method is one short transaction."""

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        self.db = db
        self.vault = vault  # opens the sealed recipient of a stale row (``stale_pending``)

    async def claim(
        self,
        *,
        key: str,
        case_id: str,
        channel: Channel,
        to: str,
        body: str,
        body_sha256: str | None = None,
        to_sealed: str | None = None,
        borrower_id: str | None = None,
    ) -> Claim:
        """Insert the ``recorded`` row, or return the earlier attempt for this key (``pending``
        when it is still ``recorded`` or ``unknown``). ``body`` sealed: give its text's hash;
        the number sealed: ``to`` empty, ``to_sealed`` and the ``borrower_id`` whose key it is."""
        now = utc_now()
        contact_attempts = table_of(ContactAttempt)
        insert = (
            insert_for(self.db, contact_attempts)
            .values(
                idempotency_key=key,
                case_id=case_id,
                channel=channel.value,
                to_number=to,
                to_sealed=to_sealed,
                borrower_id=borrower_id,
                body=body,
                status=AttemptStatus.RECORDED.value,
                body_sha256=body_sha256,
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
                    select(ContactAttempt).where(ContactAttempt.idempotency_key == key)
                )
            ).one()
            await session.commit()
            if row.status in PENDING_STATUSES and row.id is not None:
                # With the number it was recorded for: the borrower's phone may have changed
                # since, and Twilio is asked about the number the earlier attempt used.
                return Claim(pending=await self._with_number(session, _pending(row), row))
            return Claim(
                previous=Attempt(
                    status=AttemptStatus(row.status),
                    provider_sid=row.provider_sid,
                    error_code=row.error_code,
                    reason=row.reason or "",
                    body_sha256=row.body_sha256,
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

    async def record_reconciled(self, attempt_id: int, provider_sid: str) -> None:
        """Twilio's own list holds the message or call this attempt sent: it was sent."""
        await self._update(
            attempt_id,
            PENDING_STATUSES,
            status=AttemptStatus.SENT.value,
            provider_sid=provider_sid,
            reason=RECONCILED,
        )

    async def take_over(self, pending: Pending, now: Resend) -> bool:
        """Own a pending attempt to send it now; False when another attempt took it first.
        The row then holds what this send carries (``now``): the number (the phone may have
        changed) and the text (a case re-run later may render the same key with other figures).

        ``updated_at`` is the version: two retries racing for the same row cannot both win.
        """
        contact_attempts = table_of(ContactAttempt)
        statement = (
            sa.update(contact_attempts)
            .where(contact_attempts.c.id == pending.attempt_id)
            .where(contact_attempts.c.status == pending.status.value)
            .where(contact_attempts.c.updated_at == pending.version)
            .values(
                status=AttemptStatus.RECORDED.value,
                reason=RESENT,
                updated_at=utc_now(),
                to_number=now.to,
                to_sealed=now.to_sealed,
                body=now.body,
                body_sha256=now.body_sha256,
            )
        )
        async with self.db.session() as session:
            result = await session.exec(statement)
            await session.commit()
            return bool(result.rowcount)

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Pending]:
        """Attempts still ``recorded``/``unknown`` that nothing has touched since ``before``."""
        statement = (
            select(ContactAttempt)
            .where(col(ContactAttempt.status).in_([s.value for s in PENDING_STATUSES]))
            .where(col(ContactAttempt.updated_at) < before)
            .order_by(col(ContactAttempt.id))
            .limit(limit)
        )
        async with self.db.session() as session:
            rows = [row for row in (await session.exec(statement)).all() if row.id is not None]
            return [await self._with_number(session, _pending(row), row) for row in rows]

    async def _with_number(
        self, session: AsyncSession, pending: Pending, row: ContactAttempt
    ) -> Pending:
        """The sealed recipient opened (empty once the borrower is erased: nothing matches)."""
        if self.vault is None or row.to_sealed is None or row.borrower_id is None:
            return pending
        dek = await self.vault.data_key(session, row.borrower_id, create=False)
        if dek is None:
            return pending
        return dataclasses.replace(
            pending, to=open_ledger_to(dek, row.to_sealed, row.idempotency_key)
        )

    async def held_sids(self, sids: list[str]) -> set[str]:
        """Which of these provider sids some ledger row already holds."""
        if not sids:
            return set()
        statement = select(ContactAttempt.provider_sid).where(
            ContactAttempt.provider_sid.in_(sids)  # type: ignore[union-attr]
        )
        async with self.db.session() as session:
            return {str(sid) for sid in (await session.exec(statement)).all() if sid}

    async def record_rejected(self, attempt_id: int, code: str | None, reason: str) -> None:
        await self._update(
            attempt_id,
            PENDING_STATUSES,
            status=AttemptStatus.REJECTED.value,
            error_code=code,
            reason=reason,
        )

    async def mark_unknown(self, attempt_id: int, reason: str) -> None:
        await self._update(
            attempt_id, PENDING_STATUSES, status=AttemptStatus.UNKNOWN.value, reason=reason
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
