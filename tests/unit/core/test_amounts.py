"""What is owed changes only by its owners; repeat overdue events are applied or refused whole."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.common import Channel, Stage
from tests.unit.core.helpers import (
    OPENED,
    OPERATOR,
    SUPERVISOR,
    SYSTEM,
    act,
    new_case,
    run_until,
    stage_of,
)
from workflows.core import effects as fx
from workflows.core.actions.registry import CASE_ACTIONS
from workflows.core.refusal import Refusal


def repeat(**changes: object) -> c.OverdueUpdateInput:
    data: dict[str, object] = {
        "currency": "CNY",
        "amount_overdue": Decimal("1000.00"),
        "as_of": OPENED + timedelta(hours=1),
    }
    data.update(changes)
    return c.OverdueUpdateInput.model_validate(data)


def test_an_operators_amount_signal_is_refused_on_record() -> None:
    case = new_case(amount="1530.50")
    signal = c.AmountUpdate(amount_overdue=Decimal("0.01"), actor=OPERATOR)
    effects = CASE_ACTIONS[N.AMOUNT_UPDATE].receive(case, signal, OPERATOR, OPENED)
    assert case.s.amount_overdue == Decimal("1530.50")
    refused = [e for e in effects if isinstance(e, fx.Event) and e.kind == "refused"]
    assert refused and refused[0].details["code"] == "role"


def test_an_operators_correction_waits_for_a_supervisor() -> None:
    case = new_case(amount="1530.50")
    request = c.ChangeRequestInput(kind="amount_correction", corrected_amount=Decimal("1200"))
    act(case, N.REQUEST_CHANGE, request, OPERATOR, OPENED)
    assert case.s.amount_overdue == Decimal("1530.50")
    with pytest.raises(Refusal):
        act(
            case,
            N.DECIDE_REQUEST,
            c.DecideRequestInput(request_no=1, approve=True),
            OPERATOR,
            OPENED,
        )
    act(
        case, N.DECIDE_REQUEST, c.DecideRequestInput(request_no=1, approve=True), SUPERVISOR, OPENED
    )
    assert case.s.amount_overdue == Decimal("1200") and case.s.balance == Decimal("1200")
    with pytest.raises(Refusal) as again:
        act(
            case,
            N.DECIDE_REQUEST,
            c.DecideRequestInput(request_no=1, approve=True),
            SUPERVISOR,
            OPENED,
        )
    assert again.value.code == "no_request"


def test_a_dispute_upheld_with_a_corrected_amount_is_a_supervisors() -> None:
    case = new_case(amount="1530.50")
    act(case, N.DISPUTE, c.DisputeInput(action="open"), OPERATOR, OPENED)
    resolve = c.DisputeInput(
        action="resolve", resolution="upheld", corrected_amount=Decimal("0.01")
    )
    with pytest.raises(Refusal) as refused:
        act(case, N.DISPUTE, resolve, OPERATOR, OPENED)
    assert refused.value.code == "amount_owner"
    act(case, N.DISPUTE, resolve, SUPERVISOR, OPENED)
    assert case.s.amount_overdue == Decimal("0.01")


def test_a_currency_mismatch_or_a_stale_event_is_refused_whole() -> None:
    case = new_case()
    with pytest.raises(Refusal) as currency:
        act(case, N.OVERDUE_UPDATE, repeat(currency="USD", phone="+8613900139000"), SYSTEM, OPENED)
    assert currency.value.code == "currency" and case.s.phone == "+8613800138000"
    act(case, N.OVERDUE_UPDATE, repeat(), SYSTEM, OPENED)
    with pytest.raises(Refusal) as stale:
        act(
            case,
            N.OVERDUE_UPDATE,
            repeat(as_of=OPENED, amount_overdue=Decimal("5")),
            SYSTEM,
            OPENED,
        )
    assert stale.value.code == "stale" and case.s.amount_overdue == Decimal("1000.00")


def test_a_repeat_event_with_a_new_phone_sends_the_next_sms_there() -> None:
    case = new_case()
    act(case, N.OVERDUE_UPDATE, repeat(phone="+8613900139000"), SYSTEM, OPENED)
    effects = run_until(case, OPENED + timedelta(days=2))
    sms = [e for e in effects if isinstance(e, fx.Contact) and e.channel is Channel.SMS]
    assert sms and all(e.to == "+8613900139000" for e in sms)


def test_revoked_sms_consent_in_a_repeat_event_stops_sms() -> None:
    case = new_case()
    act(case, N.OVERDUE_UPDATE, repeat(consent_sms=False), SYSTEM, OPENED)
    effects = run_until(case, OPENED + timedelta(days=12))
    channels = {e.channel for e in effects if isinstance(e, fx.Contact)}
    assert channels == {Channel.CALL}
    assert stage_of(case) is Stage.WAITING
