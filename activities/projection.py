"""The read model: make the SQL rows of a case match the workflow's projection of it.

One transaction per projection. The case row and every child row (visits, negotiations,
promises, installments, payments) are upserted on their natural keys, events are appended on
``(case_id, seq)``, so applying the same projection twice leaves the same rows. A projection
older than what is stored (a retried attempt that lost a race with a newer one) only adds the
events it carries: it never winds figures back.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import sync_order
from activities.db import Database
from activities.sql import insert_for, insert_for_dialect, table_of
from models import activities as act
from models.common import Channel, Stage
from models.tables import (
    AttemptStatus,
    BorrowerLink,
    Case,
    CaseEvent,
    ContactAttempt,
    DueStatus,
    Installment,
    Loan,
    LoanStatus,
    Negotiation,
    Payment,
    Promise,
    Visit,
    utc_now,
)

log = structlog.get_logger(__name__)

ZERO = Decimal("0")
# What the loan becomes when its case ends.
LOAN_STATUS_AT_END = {Stage.RESOLVED: LoanStatus.PAID}
# Provider words in the workflow's status events -> the attempt's status (as the workflow maps).
SMS_STATUS = {
    "delivered": AttemptStatus.DELIVERED,
    "undelivered": AttemptStatus.UNDELIVERED,
    "failed": AttemptStatus.FAILED,
}
CALL_STATUS = {
    "completed": AttemptStatus.ANSWERED,
    "no-answer": AttemptStatus.UNANSWERED,
    "busy": AttemptStatus.UNANSWERED,
    "failed": AttemptStatus.UNANSWERED,
    "canceled": AttemptStatus.UNANSWERED,
}


async def sync_case(db: Database, p: act.CaseProjection) -> None:
    newest = max((e.seq for e in p.events), default=0)
    async with db.session() as session:
        stored = await _stored_seq(session, p.case_id)
        place = await sync_order.place(session, p)
        if place < 0:  # a lost workflow task's sync, retried after a later task's
            log.info("sync of a lost task ignored", case_id=p.case_id, seq=newest, stored=stored)
            return
        if place > 0:  # a later task than the row's: its events over any a lost task wrote
            if newest < stored:
                log.info("lost task's events dropped", case_id=p.case_id, seq=newest, stored=stored)
            await sync_order.replace_events(db, session, p, newest)
        else:
            await _append_events(db, session, p, after=stored)
        if place > 0 or newest >= stored:
            await _upsert_case(db, session, p, newest)
            await _upsert_children(db, session, p)
            await _apply_contact_statuses(session, p)
            if p.stage.terminal:
                await _close_loan(session, p)
        else:
            log.info("stale projection: events only", case_id=p.case_id, seq=newest, stored=stored)
        await session.commit()


async def _stored_seq(session: AsyncSession, case_id: str) -> int:
    """The newest event seq stored for the case (the events outlive a skipped case row)."""
    events = await session.exec(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case_id))
    return int(events.one() or 0)


async def _append_events(
    db: Database, session: AsyncSession, p: act.CaseProjection, after: int
) -> None:
    rows = [sync_order.event_row(p.case_id, e) for e in p.events if e.seq > after]
    if rows:
        events = table_of(CaseEvent)
        statement = insert_for(db, events).values(rows)
        await session.exec(
            statement.on_conflict_do_nothing(index_elements=[events.c.case_id, events.c.seq])
        )


async def _upsert_case(
    db: Database, session: AsyncSession, p: act.CaseProjection, seq: int
) -> None:
    loan_known = (
        await session.exec(select(Loan.loan_id).where(Loan.loan_id == p.loan_id))
    ).first() is not None
    if not loan_known:
        # cases.loan_id references loans: the loan system (API or scan) writes the loan first.
        # Failing here would stall the case on a bookkeeping gap; the events are kept instead.
        log.error("case row skipped: its loan is not in the loans table", case_id=p.case_id)
        return
    now = utc_now()
    values: dict[str, Any] = {
        "case_id": p.case_id,
        "loan_id": p.loan_id,
        "stage": p.stage.value,
        "amount_overdue": p.amount_overdue,
        "balance": p.balance,
        "currency": p.currency,
        "next_action_kind": p.next_action.kind if p.next_action else None,
        "next_action_at": p.next_action.at if p.next_action else None,
        "assigned_agents": list(p.assigned_agents),
        "strategy_id": p.strategy.id,
        "strategy_version": p.strategy.version,
        "days_past_due": p.days_past_due,
        "last_event_seq": seq,
        "synced_at": p.synced_at,
        "synced_history": p.history_length,
        "created_at": now,
        "updated_at": now,
    }
    await _upsert(db, session, Case, values, keys=("case_id",))


async def _upsert_children(db: Database, session: AsyncSession, p: act.CaseProjection) -> None:
    now = utc_now()
    for visit in p.visits:
        values = {
            "case_id": p.case_id,
            "visit_no": visit.visit_no,
            "proposed_at": visit.proposed_at,
            "scheduled_at": visit.scheduled_at,
            "collectors": list(visit.collectors),
            "outcome": visit.outcome.value if visit.outcome else None,
            "notes": visit.notes,
            "recorded_by": visit.recorded_by.id if visit.recorded_by else None,
            "created_at": now,
            "updated_at": now,
        }
        await _upsert(db, session, Visit, values, keys=("case_id", "visit_no"))
    for n in p.negotiations:
        values = {
            "case_id": p.case_id,
            "seq": n.seq,
            "at": n.at,
            "reason_for_default": n.reason.value,
            "income": n.monthly_income,
            "essential_expenses": n.essential_expenses,
            "result_kind": n.result.value,
            "details": dict(n.details),
            "actor_id": n.actor.id,
            "actor_role": n.actor.role.value,
        }
        await _upsert(db, session, Negotiation, values, keys=("case_id", "seq"))
    for promise in p.promises:
        values = {
            "case_id": p.case_id,
            "seq": promise.seq,
            "due_date": promise.due_date,
            "amount": promise.amount,
            "status": promise.status,
            "updated_at": now,
        }
        await _upsert(db, session, Promise, values, keys=("case_id", "seq"))
    if p.plan is not None:
        for inst, paid in zip(p.plan.installments, _paid_per_installment(p), strict=True):
            values = {
                "case_id": p.case_id,
                "plan_no": p.plan.plan_no,
                "index": inst.index,
                "due_date": inst.due_date,
                "amount": inst.amount,
                "paid_amount": paid,
                "status": DueStatus(inst.status).value,
                "updated_at": now,
            }
            await _upsert(db, session, Installment, values, keys=("case_id", "plan_no", "index"))
    payments = table_of(Payment)
    for payment in p.payments:
        values = {
            "payment_ref": payment.payment_ref,
            "case_id": p.case_id,
            "amount": payment.amount,
            "paid_at": payment.paid_at,
            "recorded_at": payment.recorded_at,
        }
        # A payment is a fact: once stored it is never rewritten.
        statement = insert_for(db, payments).values(**values)
        await session.exec(
            statement.on_conflict_do_nothing(index_elements=[payments.c.payment_ref])
        )


def _paid_per_installment(p: act.CaseProjection) -> list[Decimal]:
    """Payments since the plan was agreed, met in installment order (as the workflow counts)."""
    plan = p.plan
    if plan is None:
        return []
    paid_total = sum((pay.amount for pay in p.payments), start=ZERO)
    left = max(ZERO, paid_total - plan.paid_before)
    paid: list[Decimal] = []
    for inst in plan.installments:
        share = min(inst.amount, left)
        paid.append(share)
        left -= share
    return paid


async def _apply_contact_statuses(session: AsyncSession, p: act.CaseProjection) -> None:
    """Provider status callbacks reach the workflow as signals; bring the ledger along."""
    for event in p.events:
        sid, word = event.details.get("sid"), event.details.get("status")
        if event.kind is not act.CaseEventKind.CONTACT or not sid or not word:
            continue
        row = (
            await session.exec(select(ContactAttempt).where(ContactAttempt.provider_sid == sid))
        ).first()
        if row is None or row.status in (AttemptStatus.REJECTED, AttemptStatus.RECORDED):
            continue
        mapping = SMS_STATUS if row.channel is Channel.SMS else CALL_STATUS
        outcome = event.details.get("outcome")  # the workflow's own verdict, when it gives one
        status = AttemptStatus(outcome) if outcome in _ATTEMPT_VALUES else mapping.get(word)
        if status is not None and status is not row.status:
            row.status = status
            session.add(row)


_ATTEMPT_VALUES = frozenset(s.value for s in AttemptStatus)


async def _close_loan(session: AsyncSession, p: act.CaseProjection) -> None:
    status = LOAN_STATUS_AT_END.get(p.stage, LoanStatus.CLOSED)
    await session.exec(
        sa.update(table_of(Loan))
        .where(table_of(Loan).c.loan_id == p.loan_id)
        .values(status=status.value, updated_at=utc_now())
    )
    # The borrower's page links end with the case (the page refuses them anyway; this keeps
    # the table saying so).
    links = table_of(BorrowerLink)
    await session.exec(
        sa.update(links)
        .where(links.c.case_id == p.case_id, links.c.revoked_at.is_(None))
        .values(revoked_at=utc_now(), revoked_reason="case_ended")
    )


async def _upsert(
    db: Database,
    session: AsyncSession,
    model: type[Any],
    values: dict[str, Any],
    *,
    keys: tuple[str, ...],
) -> None:
    statement = _upsert_statement(db.engine.dialect.name, table_of(model), tuple(values), keys)
    await session.exec(statement, params=values)


@functools.cache
def _upsert_statement(
    dialect: str, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Any:
    """The upsert for these columns, built once per backend: building its ``excluded`` alias
    for every row was a quarter of a sync's CPU. The row's values are bound when it runs."""
    statement = insert_for_dialect(dialect, table)
    kept = {*keys, "created_at"}
    return statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={k: statement.excluded[k] for k in columns if k not in kept},
    )
