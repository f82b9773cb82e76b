"""Machine events and the remaining staff actions: delivery statuses, key presses, channel
preferences, slots an operator offers or books, and reassignment."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.case import ContactOutcome
from models.common import Channel, Stage
from tests.unit.core.helpers import (
    BORROWER,
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
from workflows.core import localtime
from workflows.core.refusal import Refusal

VISIT_DAY = OPENED + timedelta(days=18)


def test_a_delivery_status_updates_the_contact_it_names() -> None:
    case = new_case()
    effects = run_until(case, OPENED + timedelta(days=1))
    sent = next(e for e in effects if isinstance(e, fx.Contact))
    case.report_contact(sent.key, ContactOutcome.SENT, "SM-9", connected=False)
    status = c.ContactStatusEvent(provider_sid="SM-9", status="undelivered")
    act(case, N.CONTACT_STATUS, status, SYSTEM, OPENED + timedelta(days=1))
    record = next(r for r in case.s.contacts if r.key == sent.key)
    assert record.outcome is ContactOutcome.UNDELIVERED and record.provider_sid == "SM-9"


def test_an_answered_call_counts_as_a_conversation() -> None:
    case = new_case()
    effects = run_until(case, OPENED + timedelta(days=3))
    call = next(e for e in effects if isinstance(e, fx.Contact) and e.channel is Channel.CALL)
    case.report_contact(call.key, ContactOutcome.SENT, "CA-1", connected=False)
    done = c.ContactStatusEvent(provider_sid="CA-1", status="completed", duration_seconds=40)
    act(case, N.CONTACT_STATUS, done, SYSTEM, call.at)
    record = next(r for r in case.s.contacts if r.key == call.key)
    assert record.connected and record.outcome is ContactOutcome.ANSWERED


def test_ivr_key_one_is_a_promise_and_a_redelivery_counts_once() -> None:
    case = new_case()
    press = c.IvrResponse(provider_sid="CA-2", digits="1")
    act(case, N.IVR_RESPONSE, press, SYSTEM, OPENED)
    act(case, N.IVR_RESPONSE, press, SYSTEM, OPENED)
    assert stage_of(case) is Stage.FOLLOW_UP
    assert [x.kind for x in case.s.commitments] == ["ivr"]


def test_opting_back_in_restores_the_channel() -> None:
    case = new_case()
    out = c.ChannelPreference(channel=Channel.CALL, opted_out=True)
    act(case, N.CHANNEL_PREFERENCE, out, OPERATOR, OPENED)
    assert case.s.opted_out == [Channel.CALL]
    back = c.ChannelPreference(channel=Channel.CALL, opted_out=False)
    act(case, N.CHANNEL_PREFERENCE, back, OPERATOR, OPENED)
    assert case.s.opted_out == []


def test_an_operator_offers_new_slots_and_books_a_time_agreed_by_phone() -> None:
    case = new_case()
    run_until(case, VISIT_DAY)
    slots = [VISIT_DAY + timedelta(days=4), VISIT_DAY + timedelta(days=5)]
    act(case, N.OFFER_SLOTS, c.OfferSlotsInput(slots=slots), OPERATOR, VISIT_DAY)
    visit = case.current_visit()
    assert visit is not None and visit.offered == slots and not visit.proposal_sent
    night = VISIT_DAY.replace(hour=15) + timedelta(days=4)  # 23:00 in Shanghai
    with pytest.raises(Refusal) as late:
        act(case, N.OFFER_SLOTS, c.OfferSlotsInput(slots=[night]), OPERATOR, VISIT_DAY)
    assert late.value.code == "outside_hours"
    one = c.ScheduleVisitInput(at=slots[0], collectors=["fc-1"])
    with pytest.raises(Refusal) as alone:
        act(case, N.SCHEDULE_VISIT, one, OPERATOR, VISIT_DAY)
    assert alone.value.code == "collectors"
    two = c.ScheduleVisitInput(at=slots[0], collectors=["fc-1", "fc-2"])
    act(case, N.SCHEDULE_VISIT, two, OPERATOR, VISIT_DAY)
    assert visit.scheduled_at == slots[0] and case.s.assigned_agents == ["fc-1", "fc-2"]


def test_a_supervisor_reassigns_the_visits_collectors() -> None:
    case = new_case()
    run_until(case, VISIT_DAY)
    act(case, N.REASSIGN, c.ReassignInput(agents=["fc-3", "fc-4"]), SUPERVISOR, VISIT_DAY)
    visit = case.current_visit()
    assert visit is not None and visit.collectors == ["fc-3", "fc-4"]
    with pytest.raises(Refusal):
        act(case, N.REASSIGN, c.ReassignInput(agents=["fc-5"]), OPERATOR, VISIT_DAY)


def test_the_loan_systems_amount_update_can_resolve_a_case() -> None:
    case = new_case(amount="500.00")
    pay = c.PaymentInput(payment_ref="P-1", amount=Decimal("200.00"), paid_at=OPENED)
    act(case, N.PAYMENT, pay, SYSTEM, OPENED)
    act(case, N.AMOUNT_UPDATE, c.AmountUpdate(amount_overdue=Decimal("150.00")), SYSTEM, OPENED)
    assert stage_of(case) is Stage.RESOLVED and case.s.refund_due == Decimal("50.00")


def test_the_borrowers_preferred_hours_narrow_the_contact_window() -> None:
    """18:00-20:00 local: the first reminder (09:30 local at D+1) waits until 18:00 that day."""
    case = new_case()
    tz = case.s.timezone
    evening = c.ChannelPreference(channel=Channel.SMS, hours_start=time(18), hours_end=time(20))
    act(case, N.CHANNEL_PREFERENCE, evening, BORROWER, OPENED)
    assert case.s.opted_out == []  # the hours changed, the channel did not
    sent = [e for e in run_until(case, OPENED + timedelta(days=2)) if isinstance(e, fx.Contact)]
    assert sent, "the reminder still goes, at the borrower's hour"
    assert all(time(18) <= localtime.to_local(e.at, tz).time() < time(20) for e in sent)


def test_preferred_hours_outside_the_strategys_hours_are_refused() -> None:
    case = new_case()
    late = c.ChannelPreference(channel=Channel.SMS, hours_start=time(20), hours_end=time(23))
    with pytest.raises(Refusal) as refused:
        act(case, N.CHANNEL_PREFERENCE, late, BORROWER, OPENED)
    assert refused.value.code == "preferred_hours" and "21:00" in refused.value.en
    assert case.s.hours_start is None
    with pytest.raises(ValueError):
        c.ChannelPreference(channel=Channel.SMS, hours_start=time(19), hours_end=time(9))
