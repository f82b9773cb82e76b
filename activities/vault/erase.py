"""Erasure: delete a borrower's data key and scrub what SQL kept of them in clear.

The key's deletion is what erases: every sealed value of the borrower (their details, free
texts, message bodies in the contact ledger) becomes unreadable ciphertext, in the database and
in every backup. The sealed columns are emptied too, and the few places that must hold a number
or a name in clear while a case runs (the ledger's recipient, the legal case file) are scrubbed.
Temporal histories need nothing: they carry the borrower id, fingerprints and references only.
What stays: ids, amounts, stages, decisions, actors, times, and the do-not-contact register.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.sql import table_of
from activities.vault.store import Vault
from models import tables as t
from models.common import case_id_for
from models.vault_tables import BorrowerKey, Erasure, SealedText

ERASED = "[erased]"


@dataclass(frozen=True)
class ErasureResult:
    borrower_id: str
    found: bool
    cases: int = 0
    texts: int = 0
    contacts: int = 0


async def erase_borrower(vault: Vault, borrower_id: str, actor: str) -> ErasureResult:
    """Erase one borrower; idempotent (a second run finds nothing left and records again)."""
    async with vault.db.session() as session:
        borrower = await session.get(t.Borrower, borrower_id)
        if borrower is None:
            return ErasureResult(borrower_id, found=False)
        loan_ids = (
            await session.exec(select(t.Loan.loan_id).where(t.Loan.borrower_id == borrower_id))
        ).all()
        case_ids = [case_id_for(str(loan_id)) for loan_id in loan_ids]
        await session.exec(
            sa.delete(table_of(BorrowerKey)).where(col(BorrowerKey.borrower_id) == borrower_id)
        )
        borrowers = table_of(t.Borrower)
        await session.exec(
            sa.update(borrowers)
            .where(borrowers.c.id == borrower_id)
            .values(name="", phone="", address="", birth_year=None, sealed=None, phone_hmac=None)
        )
        texts = table_of(SealedText)
        erased_texts = await session.exec(
            sa.update(texts).where(texts.c.borrower_id == borrower_id).values(sealed=None)
        )
        contacts = await _scrub_cases(session, case_ids)
        session.add(
            Erasure(
                borrower_id=borrower_id,
                actor=actor[:64],
                erased_at=datetime.now(UTC),
                cases=len(case_ids),
                texts=int(erased_texts.rowcount or 0),
                contacts=contacts,
            )
        )
        await session.commit()
    return ErasureResult(
        borrower_id, True, len(case_ids), int(erased_texts.rowcount or 0), contacts
    )


async def _scrub_cases(session: AsyncSession, case_ids: list[str]) -> int:
    """The ledger's recipients and bodies, and the legal case files, of the borrower's cases."""
    if not case_ids:
        return 0
    attempts = table_of(t.ContactAttempt)
    scrubbed = await session.exec(
        sa.update(attempts)
        .where(attempts.c.case_id.in_(case_ids))
        .values(to_number="", to_sealed=None, body=ERASED)
    )
    outbox = (
        await session.exec(select(t.LegalOutbox).where(col(t.LegalOutbox.case_id).in_(case_ids)))
    ).all()
    for row in outbox:
        row.payload = _scrub_case_file(row.payload)
        session.add(row)
    return int(scrubbed.rowcount or 0)


def _scrub_case_file(payload: dict[str, Any]) -> dict[str, Any]:
    borrower = payload.get("borrower") or {}
    kept = {k: borrower.get(k) for k in ("id", "timezone", "locale", "region") if k in borrower}
    log = [
        {**entry, "to_number": "", "body": ERASED}
        for entry in payload.get("contact_log", [])
        if isinstance(entry, dict)
    ]
    visits = [
        {**visit, "notes": ERASED} if isinstance(visit, dict) and visit.get("notes") else visit
        for visit in payload.get("visits", [])
    ]
    return {**payload, "borrower": {**kept, "erased": True}, "contact_log": log, "visits": visits}
