"""The ``borrower_contacts`` activity: a borrower's contacts on their other loans, read from the
read model the real ``sync_case`` wrote, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from activities.borrower_contacts import other_loan_contacts
from activities.db import Database
from activities.projection import sync_case
from models import activities as act
from models import tables as t
from models.case import ContactOutcome, NextAction
from models.common import SYSTEM_ACTOR, Channel, Stage, StrategyRef, case_id_for
from tests import factories
from tests.test_activities import seed_case

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def event(seq: int, hours: float, **details: str) -> act.CaseEvent:
    return act.CaseEvent(
        seq=seq,
        at=T0 + timedelta(hours=hours),
        stage=Stage.REMINDING,
        kind=act.CaseEventKind.CONTACT,
        actor=SYSTEM_ACTOR,
        summary="contact",
        details=details,
    )


def projection(loan_id: str, borrower_id: str, events: list[act.CaseEvent]) -> act.CaseProjection:
    return act.CaseProjection(
        case_id=case_id_for(loan_id),
        loan_id=loan_id,
        borrower_id=borrower_id,
        region="hz",
        stage=Stage.REMINDING,
        currency="CNY",
        amount_overdue=Decimal("100.00"),
        balance=Decimal("100.00"),
        days_past_due=1,
        strategy=StrategyRef(id="default", version=1),
        events=events,
    )


async def add_loan(db: Database, loan_id: str, borrower_id: str) -> None:
    async with db.session() as session:
        session.add(
            t.Loan(
                loan_id=loan_id,
                borrower_id=borrower_id,
                currency="CNY",
                amount_overdue=Decimal("100.00"),
                outstanding_balance=Decimal("900.00"),
                due_date=T0.date(),
                strategy_id="default",
            )
        )
        await session.commit()


async def test_the_other_loans_attempts_one_record_each_with_answers(database: Database) -> None:
    """Attempts on the borrower's other case come back once per step (answered calls marked
    connected); this case's own, other borrowers', deferrals and old ones do not."""
    inp = factories.case_input()
    await seed_case(database, inp)
    borrower_id, first = inp.borrower.id, inp.loan.loan_id
    second, stranger = f"L-{uuid.uuid4().hex[:8]}", f"L-{uuid.uuid4().hex[:8]}"
    await add_loan(database, second, borrower_id)
    other_inp = factories.case_input()
    await seed_case(database, other_inp)
    await add_loan(database, stranger, other_inp.borrower.id)

    sms, call = Channel.SMS.value, Channel.CALL.value
    await sync_case(
        database,
        projection(
            first,
            borrower_id,
            [
                event(1, -24 * 9, channel=sms, step="old", outcome="sent"),
                event(2, 0, channel=sms, step="reminder-0", outcome="sent"),
                event(3, 0.1, step="reminder-0", status="delivered", outcome="delivered"),
                event(4, 2, channel=call, step="reminder-1", outcome="sent"),
                event(5, 2.1, step="reminder-1", status="completed", outcome="answered"),
                event(6, 3, channel=sms, step="reminder-2", outcome="deferred"),
                event(7, 4, channel=call, step="manual-1", outcome="unanswered"),
            ],
        ),
    )
    await sync_case(
        database,
        projection(
            second, borrower_id, [event(1, 1, channel=sms, step="reminder-0", outcome="sent")]
        ),
    )
    await sync_case(
        database,
        projection(
            stranger,
            other_inp.borrower.id,
            [event(1, 1, channel=sms, step="reminder-0", outcome="sent")],
        ),
    )

    ask = act.BorrowerContactsInput(
        case_id=case_id_for(second), borrower_id=borrower_id, since=T0 - timedelta(days=8)
    )
    found = await other_loan_contacts(database, ask)
    assert [(r.key, r.channel, r.outcome, r.connected) for r in found] == [
        (f"{case_id_for(first)}/reminder-0", Channel.SMS, ContactOutcome.DELIVERED, False),
        (f"{case_id_for(first)}/reminder-1", Channel.CALL, ContactOutcome.ANSWERED, True),
        (f"{case_id_for(first)}/manual-1", Channel.CALL, ContactOutcome.UNANSWERED, False),
    ]
    assert found[0].at == T0 and found[1].at == T0 + timedelta(hours=2)


async def test_a_sibling_due_first_counts_as_contacting_now(database: Database) -> None:
    """Two loans waking together: the one due first (the smaller id on a tie) is counted by the
    other as a contact now; a sibling due long ago (a stale row) or closed is not counted."""
    inp = factories.case_input()
    await seed_case(database, inp)
    b = inp.borrower.id
    tag = uuid.uuid4().hex[:6]
    early, tie_small, tie_large, stale, closed = (f"L-{x}-{tag}" for x in ("e", "a", "z", "s", "c"))
    wanted = {
        early: (Stage.REMINDING, "reminder", -0.5),
        tie_small: (Stage.REMINDING, "reminder", 0),
        tie_large: (Stage.REMINDING, "contact_window", 0),
        stale: (Stage.REMINDING, "reminder", -3),
        closed: (Stage.RESOLVED, "reminder", -0.2),
    }
    for loan_id, (stage, kind, hours) in wanted.items():
        await add_loan(database, loan_id, b)
        update = {
            "stage": stage,
            "next_action": NextAction(kind=kind, at=T0 + timedelta(hours=hours)),
        }
        await sync_case(database, projection(loan_id, b, []).model_copy(update=update))

    async def counted(loan_id: str, due_hours: float) -> set[str]:
        ask = act.BorrowerContactsInput(
            case_id=case_id_for(loan_id),
            borrower_id=b,
            since=T0 - timedelta(days=8),
            at=T0 + timedelta(minutes=5),
            due_at=T0 + timedelta(hours=due_hours),
            channel=Channel.SMS,
        )
        found = await other_loan_contacts(database, ask)
        assert all(r.channel is Channel.SMS and r.at == ask.at for r in found)
        return {r.key.removesuffix("/due") for r in found}

    assert await counted(tie_small, 0) == {case_id_for(early)}
    assert await counted(tie_large, 0) == {case_id_for(early), case_id_for(tie_small)}
    assert await counted(early, -0.5) == set()
    without_channel = act.BorrowerContactsInput(
        case_id=case_id_for(tie_large), borrower_id=b, since=T0 - timedelta(days=8)
    )
    assert await other_loan_contacts(database, without_channel) == []
