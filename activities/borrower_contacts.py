"""The borrower's contacts on their other loans, read from the read model for the caps.

Frequency caps count a borrower's contacts across all their loans (DESIGN §5). Each case knows
its own contacts; the others are in ``case_events``: every attempt is a ``contact`` event whose
``at`` is the case's own clock (the workflow's time, so it compares with the asking case's
time even on a time-skipping server, which the ledger's wall-clock timestamps would not). One
record per (case, step): when it first went out, and whether anyone answered.

Two loans often fall due together and wake within a second, before either has synced its
contact: the one due first (the smaller case id on a tie) goes first, and the other counts that
sibling's due contact as made now (``_due_first``), so the caps hold when loans wake together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from models import activities as act
from models.case import ContactOutcome, ContactRecord
from models.common import Channel, Stage
from models.tables import Case, CaseEvent, Loan
from workflows.core.compliance import ATTEMPTED

ATTEMPTED_VALUES = frozenset(o.value for o in ATTEMPTED)
KEPT = 50  # as many as the case keeps (entry.borrower_contacts)


# The next actions of a case (``next_wait`` reasons) that are a contact about to be made.
CONTACT_WAITS = ("reminder", "contact_window", "commitment_reminder", "visit_reminder")
TERMINAL = [stage for stage in Stage if stage.terminal]


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
        due = await _due_first(session, inp)
    return [*records_of(rows, inp.since), *due][-KEPT:]


async def _due_first(session: AsyncSession, inp: act.BorrowerContactsInput) -> list[ContactRecord]:
    """Siblings whose contact fell due before this one's (the smaller case id on a tie) and
    that have not yet recorded it: counted as a contact now, so this one waits. Both cases
    order the pair the same way, so one of them goes first."""
    if inp.at is None or inp.channel is None:
        return []
    mine = (inp.due_at or inp.at, inp.case_id)
    statement = (
        select(Case.case_id, Case.next_action_at)
        .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
        .where(Loan.borrower_id == inp.borrower_id, Case.case_id != inp.case_id)
        .where(col(Case.next_action_kind).in_(CONTACT_WAITS))
        .where(col(Case.stage).not_in(TERMINAL))
    )
    earliest = inp.at - timedelta(seconds=inp.grace_seconds)
    due = []
    for case_id, next_at in (await session.exec(statement)).all():
        # A due time further back is a read model the case has not updated: not counted, so
        # a stuck sibling cannot hold this one back for ever.
        if next_at is not None and earliest < _aware(next_at) and (_aware(next_at), case_id) < mine:
            due.append(
                ContactRecord(
                    key=f"{case_id}/due",
                    channel=inp.channel,
                    purpose="due",
                    at=inp.at,
                    outcome=ContactOutcome.SENT,
                )
            )
    return due


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
        moment = _aware(at)
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


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
