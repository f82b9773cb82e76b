"""Manual calls count toward the caps; caps count the borrower's other loans; opt-outs last."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.case import ContactOutcome
from models.common import Channel, Stage
from tests.unit.core.helpers import OPENED, OPERATOR, SYSTEM, act, new_case, run_until, stage_of
from workflows.core import compliance
from workflows.core import effects as fx
from workflows.core.refusal import Refusal
from workflows.core.state import Contact

CALL = c.ManualContactInput(outcome=c.ManualContactOutcome.NO_ANSWER)


def test_logged_calls_count_toward_seven_in_seven_days() -> None:
    case = new_case()
    for hour in range(6):  # unanswered daily cap is 6
        act(case, N.MANUAL_CONTACT, CALL, OPERATOR, OPENED + timedelta(hours=hour))
    with pytest.raises(Refusal) as daily:
        act(case, N.MANUAL_CONTACT, CALL, OPERATOR, OPENED + timedelta(hours=7))
    assert daily.value.code == "gate" and "unanswered" in daily.value.en
    act(case, N.MANUAL_CONTACT, CALL, OPERATOR, OPENED + timedelta(days=1, hours=1))
    decision = case.gate(Channel.CALL, OPENED + timedelta(days=2, hours=1))
    assert decision.verdict is compliance.Verdict.DEFER and "7 calls" in decision.reason


def test_a_right_party_contact_quiets_calls_for_a_week() -> None:
    case = new_case()
    talk = c.ManualContactInput(outcome=c.ManualContactOutcome.RIGHT_PARTY)
    act(case, N.MANUAL_CONTACT, talk, OPERATOR, OPENED)
    effects = run_until(case, OPENED + timedelta(days=4))
    calls = [e for e in effects if isinstance(e, fx.Contact) and e.channel is Channel.CALL]
    assert all(e.at >= OPENED + timedelta(days=7) for e in calls)


def test_a_promise_on_a_logged_call_goes_to_follow_up() -> None:
    case = new_case()
    promise = c.ManualContactInput(
        outcome=c.ManualContactOutcome.PROMISE,
        promise=c.PromiseTerms(amount=Decimal("50"), due_in_days=2),
    )
    act(case, N.MANUAL_CONTACT, promise, OPERATOR, OPENED)
    assert stage_of(case) is Stage.FOLLOW_UP


def test_the_borrowers_other_loans_count_toward_the_sms_cap() -> None:
    case = new_case()
    other = Contact(
        key="case-other/g1/reminder-0",
        channel=Channel.SMS,
        step="reminder-0",
        at=OPENED + timedelta(hours=23, minutes=20),
        outcome=ContactOutcome.DELIVERED,
    )
    case.s.borrower_contacts.append(other)
    effects = run_until(case, OPENED + timedelta(days=3))
    first = next(e for e in effects if isinstance(e, fx.Contact))
    assert first.at >= other.at + timedelta(days=1)


def test_an_opt_out_is_remembered_for_the_phone() -> None:
    case = new_case()
    inbound = c.InboundMessage(provider_sid="SM1", text="退订")
    effects = act(case, N.INBOUND_MESSAGE, inbound, SYSTEM, OPENED)
    assert [e for e in effects if isinstance(e, fx.DoNotContact)] == [
        fx.DoNotContact(phone=case.s.phone, channel=Channel.SMS)
    ]
    effects = run_until(case, OPENED + timedelta(days=12))
    assert {e.channel for e in effects if isinstance(e, fx.Contact)} == {Channel.CALL}


def test_contact_keys_carry_the_generation() -> None:
    from tests.factories import borrower, loan
    from workflows.core.case import Case
    from workflows.core.state import open_state

    state = open_state("case-L", loan(due=OPENED.date()), borrower(), OPENED, generation=2)
    case = Case(state, new_case().strategy)
    effects = run_until(case, OPENED + timedelta(days=2))
    keys = [e.key for e in effects if isinstance(e, fx.Contact)]
    assert keys and all(k.startswith("case-L/g2/") for k in keys)
