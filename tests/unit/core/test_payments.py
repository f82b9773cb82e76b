"""Payments: counted once, by the roles the table allows, and never refused after the end."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.common import Stage
from tests.unit.core.helpers import AUDITOR, OPENED, SUPERVISOR, SYSTEM, act, new_case, stage_of
from workflows.core import effects as fx
from workflows.core.refusal import Refusal


def pay(ref: str, amount: str, receipt: str | None = None) -> c.PaymentInput:
    return c.PaymentInput(
        payment_ref=ref, amount=Decimal(amount), paid_at=OPENED, receipt_ref=receipt
    )


def test_a_partial_payment_lowers_the_balance_and_a_repeat_counts_once() -> None:
    case = new_case(amount="1000.00")
    act(case, N.PAYMENT, pay("P-1", "300.00"), SYSTEM, OPENED)
    act(case, N.PAYMENT, pay("P-1", "300.00"), SYSTEM, OPENED)
    assert case.s.balance == Decimal("700.00") and case.s.paid_total == Decimal("300.00")
    assert case.s.payments_count == 1


def test_full_payment_resolves_and_sends_a_receipt_inside_the_window() -> None:
    case = new_case(amount="100.00")
    effects = act(case, N.PAYMENT, pay("P-1", "100.00"), SYSTEM, OPENED)
    assert stage_of(case) is Stage.RESOLVED
    receipts = [e for e in effects if isinstance(e, fx.Contact)]
    assert [r.step for r in receipts] == ["thank-you"] and receipts[0].transactional


def test_a_supervisor_needs_a_receipt_and_an_auditor_may_not_pay() -> None:
    case = new_case()
    with pytest.raises(Refusal) as refused:
        act(case, N.PAYMENT, pay("P-1", "10.00"), SUPERVISOR, OPENED)
    assert refused.value.code == "receipt_needed" and "收据" in refused.value.zh
    act(case, N.PAYMENT, pay("P-1", "10.00", receipt="R-7"), SUPERVISOR, OPENED)
    with pytest.raises(Refusal) as role:
        act(case, N.PAYMENT, pay("P-2", "10.00"), AUDITOR, OPENED)
    assert role.value.code == "role" and "record payments" in role.value.en


def test_over_payment_on_a_resolved_case_is_a_refund_due() -> None:
    case = new_case(amount="100.00")
    act(case, N.PAYMENT, pay("P-1", "100.00"), SYSTEM, OPENED)
    act(case, N.PAYMENT, pay("P-2", "25.00"), SYSTEM, OPENED + timedelta(days=2))
    s = case.s
    assert s.stage is Stage.RESOLVED and s.late_payments == Decimal("25.00")
    assert s.refund_due == Decimal("25.00") and s.payments[-1].late


def test_a_late_payment_on_a_written_off_case_is_a_recovery() -> None:
    case = new_case(amount="500.00")
    case.enter(Stage.ESCALATED, "test", OPENED)
    case.enter(Stage.WRITTEN_OFF, "test", OPENED)
    act(case, N.PAYMENT, pay("P-1", "200.00"), SYSTEM, OPENED + timedelta(days=40))
    assert stage_of(case) is Stage.WRITTEN_OFF
    assert case.s.balance == Decimal("300.00") and case.s.refund_due == 0


def test_paying_a_settlement_settles_and_more_after_it_is_owed_back() -> None:
    case = new_case(amount="1000.00")
    case.enter(Stage.ESCALATED, "test", OPENED)
    inp = c.EscalationInput(
        decision=c.EscalationDecision.SETTLEMENT, settlement_amount=Decimal("600")
    )
    act(case, N.ESCALATION, inp, SUPERVISOR, OPENED)
    assert stage_of(case) is Stage.FOLLOW_UP
    act(case, N.PAYMENT, pay("P-1", "600.00"), SYSTEM, OPENED + timedelta(days=1))
    assert stage_of(case) is Stage.SETTLED
    act(case, N.PAYMENT, pay("P-2", "50.00"), SYSTEM, OPENED + timedelta(days=2))
    assert case.s.refund_due == Decimal("50.00")
