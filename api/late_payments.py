"""Money after the end (DESIGN §2): a payment for a case whose Temporal run has finished is
stored in the payments table and answered with the final state plus what came late. It is
never refused. On a resolved or settled case it is an over-payment with a refund due; on a
written-off or legal case it is a recovery that lowers the reported balance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from activities.sql import insert_for, table_of
from api.store import StoreUnavailable
from models import case as c
from models import tables as t
from models.common import SYSTEM_ACTOR, Stage

ZERO = Decimal("0")


async def record(db: Database, case_id: str, inp: c.PaymentInput) -> None:
    """Store the payment once (by ``payment_ref``) with an event for the case's record."""
    now = datetime.now(UTC)
    payment = insert_for(db, table_of(t.Payment)).values(
        payment_ref=inp.payment_ref,
        case_id=case_id,
        amount=inp.amount,
        paid_at=inp.paid_at,
        recorded_at=now,
    )
    try:
        async with db.session() as session:
            result = await session.exec(
                payment.on_conflict_do_nothing(index_elements=["payment_ref"])
            )
            if result.rowcount:
                await _event(session, case_id, inp, now)
            await session.commit()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc


async def _event(session: AsyncSession, case_id: str, inp: c.PaymentInput, now: datetime) -> None:
    events = table_of(t.CaseEvent)
    last = (
        await session.exec(select(sa.func.max(events.c.seq)).where(events.c.case_id == case_id))
    ).first()
    seq = (last[0] if isinstance(last, tuple) else last) or 0
    await session.exec(
        sa.insert(events).values(
            case_id=case_id,
            seq=int(seq) + 1,
            at=now,
            stage="closed",
            kind="payment",
            summary=f"late payment {inp.payment_ref} of {c.money_str(inp.amount)}: case ended",
            actor_id=inp.actor.id,
            actor_role=inp.actor.role.value,
            details={
                "payment_ref": inp.payment_ref,
                "amount": c.money_str(inp.amount),
                "late": "true",
            },
        )
    )


async def late_for(db: Database, case_id: str, view: c.CaseView) -> list[c.PaymentRecord]:
    """The stored payments the case's final state does not hold, recorded since it opened: a
    reopened loan's earlier case's payments share its case id but are not this case's."""
    known = {p.payment_ref for p in view.payments}
    try:
        async with db.session() as session:
            rows = (await session.exec(select(t.Payment).where(t.Payment.case_id == case_id))).all()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return [
        c.PaymentRecord(
            payment_ref=r.payment_ref,
            amount=r.amount,
            paid_at=r.paid_at,
            recorded_at=r.recorded_at,
            actor=SYSTEM_ACTOR,
        )
        for r in rows
        if r.payment_ref not in known and _aware(r.recorded_at) >= view.opened_at
    ]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def with_late(view: c.CaseView, late: list[c.PaymentRecord]) -> c.CaseView:
    """The final state with the late payments applied as the core would have."""
    extra = sum((p.amount for p in late), start=ZERO)
    if not extra:
        return view
    paid = view.paid_total + extra
    late_total = view.late_payments + extra
    if view.stage in (Stage.RESOLVED, Stage.SETTLED):
        over = max(ZERO, paid - view.amount_overdue)
        refund = max(over, late_total) if view.stage is Stage.SETTLED else over
        balance = view.balance
    else:  # written off, legal, closed: a recovery
        refund = max(ZERO, paid - view.amount_overdue)
        balance = max(ZERO, view.amount_overdue - paid)
    return view.model_copy(
        update={
            "payments": [*view.payments, *late],
            "paid_total": paid,
            "late_payments": late_total,
            "refund_due": refund,
            "balance": balance,
        }
    )


async def final_view(db: Database | None, case_id: str, view: c.CaseView) -> c.CaseView:
    if db is None or not view.terminal:
        return view
    return with_late(view, await late_for(db, case_id, view))


async def reopened_input(db: Database | None, case_id: str, view: c.CaseView) -> dict[str, Any]:
    """What a reopened loan's new case carries from the one that ended: its generation and
    opt-outs, where its event numbers start (after the read model's, which also holds the late
    payments' events) and every payment the loan recorded, late ones included, so a payment
    retried into the new case is recognised as the same one."""
    final = await final_view(db, case_id, view)
    seq = view.event_seq
    if db is not None:
        try:
            async with db.session() as session:
                stored = await session.exec(
                    select(sa.func.max(t.CaseEvent.seq)).where(t.CaseEvent.case_id == case_id)
                )
                seq = max(seq, int(stored.one() or 0))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(str(exc)) from exc
    return {
        "generation": view.generation + 1,
        "do_not_contact": view.opted_out,
        "seq_base": seq,
        "earlier_payment_refs": [p.payment_ref for p in final.payments],
    }
