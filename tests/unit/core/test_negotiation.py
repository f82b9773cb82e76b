"""Negotiation at any open stage, hardship pauses that stop the clocks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.common import Stage
from tests.unit.core.helpers import BORROWER, OPENED, OPERATOR, act, new_case, run_until, stage_of
from workflows.core import effects as fx
from workflows.core.refusal import Refusal
from workflows.core.timers import next_wait

D5 = OPENED + timedelta(days=5)


def plan(count: int = 3, first: int = 3) -> c.NegotiationInput:
    terms = c.PlanTerms(count=count, frequency_days=7, first_due_in_days=first)
    return c.NegotiationInput(
        reason=c.DefaultReason.UNEMPLOYMENT, result=c.NegotiationResult.INSTALLMENT_PLAN, plan=terms
    )


def test_a_plan_agreed_by_phone_at_d5_skips_the_visit() -> None:
    case = new_case(amount="900.00")
    run_until(case, D5)
    assert stage_of(case) is Stage.REMINDING
    act(case, N.NEGOTIATION, plan(), OPERATOR, D5)
    assert stage_of(case) is Stage.FOLLOW_UP
    items = case.s.commitments
    assert [i.no for i in items] == [1, 2, 3] and sum(i.amount for i in items) == Decimal("900.00")
    effects = run_until(case, D5 + timedelta(days=8), start=D5)
    assert not any(isinstance(e, fx.AssignCollectors) for e in effects)
    assert stage_of(case) is Stage.NEGOTIATING  # the unpaid first installment broke: renegotiate
    assert [i.status for i in case.s.commitments] == ["broken", "replaced", "replaced"]


def test_a_borrower_may_promise_on_their_own_page() -> None:
    case = new_case()
    promise = c.NegotiationInput(
        reason=c.DefaultReason.FORGOT,
        result=c.NegotiationResult.PROMISE,
        promise=c.PromiseTerms(amount=Decimal("100"), due_in_days=3),
    )
    act(case, N.NEGOTIATION, promise, BORROWER, OPENED)
    assert stage_of(case) is Stage.FOLLOW_UP and case.s.commitments[0].kind == "promise"


def test_a_plan_outside_the_bounds_is_refused_with_the_reason() -> None:
    case = new_case(amount="900.00")
    with pytest.raises(Refusal) as refused:
        act(case, N.NEGOTIATION, plan(count=40), OPERATOR, OPENED)
    assert refused.value.code == "terms" and "between 2 and 12" in refused.value.en


def test_a_refusal_escalates_from_any_open_stage() -> None:
    case = new_case()
    refusal = c.NegotiationInput(reason=c.DefaultReason.OTHER, result=c.NegotiationResult.REFUSAL)
    act(case, N.NEGOTIATION, refusal, OPERATOR, OPENED)
    assert stage_of(case) is Stage.ESCALATED


def test_a_hardship_pause_in_follow_up_shifts_due_dates_and_breaks_nothing() -> None:
    case = new_case(amount="900.00")
    act(case, N.NEGOTIATION, plan(first=3), OPERATOR, OPENED)
    due = [i.due_at for i in case.s.commitments]
    at = OPENED + timedelta(days=1)
    act(case, N.HARDSHIP, c.HardshipInput(days=14, reason="hospital"), OPERATOR, at)
    assert next_wait(case, at).reason == "hardship_ends"
    effects = run_until(case, at + timedelta(days=15), start=at)
    sent = [e.at for e in effects if isinstance(e, fx.Contact)]
    assert sent and min(sent) >= at + timedelta(days=14)
    shifted = [i.due_at for i in case.s.commitments]
    assert shifted == [d + timedelta(days=14) for d in due]
    assert all(i.status == "pending" for i in case.s.commitments)


def test_grace_is_bounded_by_the_strategy() -> None:
    case = new_case()
    with pytest.raises(Refusal) as refused:
        act(case, N.HARDSHIP, c.HardshipInput(days=90), OPERATOR, OPENED)
    assert refused.value.code == "grace_limit"
