"""The borrower's contacts on their other loans, read from the read model for the caps.

Frequency caps count a borrower's contacts across all their loans (DESIGN §5). Each case knows
its own contacts; the others are in ``case_events``: every attempt is a ``contact`` event whose
``at`` is the case's own clock (the workflow's time, so it compares with the asking case's
time even on a time-skipping server, which the ledger's wall-clock timestamps would not). One
record per (case, step): when it first went out, and whether anyone answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from activities.db import Database
from models import activities as act
from models.case import ContactOutcome, ContactRecord
from models.common import Channel
from models.tables import Case, CaseEvent, Loan
from workflows.core.compliance import ATTEMPTED

ATTEMPTED_VALUES = frozenset(o.value for o in ATTEMPTED)
KEPT = 50  # as many as the case keeps (entry.borrower_contacts)


async def other_loan_contacts(db: Database, inp: act.BorrowerContactsInput) -> list[ContactRecord]:
    others = (
        select(Case.case_id)
        .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
        .where(Loan.borrower_id == inp.borrower_id, Case.case_id != inp.case_id)
    )
    statement = (
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.details)
        .where(CaseEvent.kind == act.CaseEventKind.CONTACT.value)
        .where(col(CaseEvent.at) > inp.since)
        .where(col(CaseEvent.case_id).in_(others))
        .order_by(col(CaseEvent.at), col(CaseEvent.seq))
    )
    async with db.session() as session:
        rows = (await session.exec(statement)).all()
    return records_of(rows, inp.since)[-KEPT:]


def records_of(rows: Any, since: datetime) -> list[ContactRecord]:
    found: dict[tuple[str, str], ContactRecord] = {}
    for case_id, at, details in rows:
        outcome, step = details.get("outcome"), details.get("step")
        if outcome not in ATTEMPTED_VALUES or not step:
            continue
        key = (case_id, step)
        seen = found.get(key)
        answered = outcome == ContactOutcome.ANSWERED.value
        if seen is not None:  # a later status of the same attempt: only "answered" matters
            seen.connected = seen.connected or answered
            seen.outcome = ContactOutcome(outcome)
            continue
        channel = details.get("channel")
        if channel not in (Channel.SMS.value, Channel.CALL.value):
            continue  # a status event without its channel: its attempt was seen already
        moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        if moment <= since:
            continue
        found[key] = ContactRecord(
            key=f"{case_id}/{step}",
            channel=Channel(channel),
            purpose=step,
            at=moment,
            outcome=ContactOutcome(outcome),
            connected=answered,
        )
    return sorted(found.values(), key=lambda r: r.at)
