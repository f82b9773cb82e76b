"""The legal hand-off: a case file as JSON in ``legal_outbox``, one per case.

The file is what the legal system needs to take the case over: the loan and borrower, the full
contact log (from the exactly-once ledger), visits, negotiations, promises, the installment
plans, payments, the balance, days past due and who approved legal action. Written once: a
retry (or a second approval) finds the row and answers with the same reference.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from activities.sql import insert_for, table_of
from activities.vault.store import Vault
from models import activities as act
from models.tables import (
    ContactAttempt,
    Installment,
    LegalOutbox,
    Negotiation,
    OutboxStatus,
    Payment,
    Promise,
    Visit,
    utc_now,
)

CASE_FILE_VERSION = 1


def legal_reference(case_id: str) -> str:
    return f"LEGAL-{case_id}"


async def hand_off_to_legal(
    db: Database, inp: act.LegalHandoffInput, vault: Vault | None = None
) -> act.LegalHandoffResult:
    reference = legal_reference(inp.case_id)
    outbox = table_of(LegalOutbox)
    async with db.session() as session:
        existing = await session.exec(
            select(LegalOutbox.id).where(LegalOutbox.case_id == inp.case_id)
        )
        if existing.first() is not None:
            return act.LegalHandoffResult(reference=reference)
        if vault is not None and not inp.borrower.carries_pii:
            inp = await _with_details(vault, session, inp)
        payload = await case_file(session, inp, reference)
        statement = insert_for(db, outbox).values(
            case_id=inp.case_id,
            created_at=utc_now(),
            payload=payload,
            status=OutboxStatus.PENDING.value,
        )
        await session.exec(statement.on_conflict_do_nothing(index_elements=[outbox.c.case_id]))
        await session.commit()
    return act.LegalHandoffResult(reference=reference)


async def _with_details(
    vault: Vault, session: AsyncSession, inp: act.LegalHandoffInput
) -> act.LegalHandoffInput:
    """Since the vault the case holds no name, phone or address: read them from SQL here, in
    the hand-off's own session (a second session beside it would take a second pool slot)."""
    details = await vault.details_in(session, inp.borrower.id)
    if details is None:  # erased before the hand-off: the file goes without them
        return inp
    borrower = inp.borrower.model_copy(
        update={
            "name": details.name,
            "phone": details.phone,
            "address": details.address,
            "birth_year": details.birth_year,
        }
    )
    return inp.model_copy(update={"borrower": borrower})


async def case_file(
    session: AsyncSession, inp: act.LegalHandoffInput, reference: str
) -> dict[str, Any]:
    case_id = inp.case_id
    return {
        "version": CASE_FILE_VERSION,
        "reference": reference,
        "case_id": case_id,
        "prepared_at": utc_now().isoformat(),
        "approved_by": inp.approved_by.model_dump(mode="json"),
        "loan": inp.loan.model_dump(mode="json"),
        "borrower": inp.borrower.model_dump(mode="json"),
        "currency": inp.loan.currency,
        "balance": _json(inp.balance),
        "days_past_due": inp.days_past_due,
        "contact_log": await _rows(
            session, ContactAttempt, case_id, col(ContactAttempt.created_at)
        ),
        "visits": await _rows(session, Visit, case_id, col(Visit.visit_no)),
        "negotiations": await _rows(session, Negotiation, case_id, col(Negotiation.seq)),
        "promises": await _rows(session, Promise, case_id, col(Promise.seq)),
        "installments": await _rows(
            session, Installment, case_id, col(Installment.plan_no), col(Installment.index)
        ),
        "payments": await _rows(session, Payment, case_id, col(Payment.paid_at)),
    }


async def _rows(
    session: AsyncSession,
    model: type[SQLModel],
    case_id: str,
    *order: Any,
) -> list[dict[str, Any]]:
    table = table_of(model)
    result = await session.exec(
        select(model).where(table.c.case_id == case_id).order_by(*order, table.c.id)
    )
    return [
        {k: _json(v) for k, v in row.model_dump().items() if k not in ("id", "case_id")}
        for row in result.all()
    ]


def _json(value: Any) -> Any:
    """Money as decimal strings, times in ISO 8601: the file must read the same anywhere."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return value
