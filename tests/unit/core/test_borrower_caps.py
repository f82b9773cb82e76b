"""Caps per borrower across loans: what the shell hands the core and what the gate says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import case as c
from models.actions import ActionName as N
from models.case import ContactOutcome, ContactRecord
from models.common import Channel
from tests.unit.core.helpers import OPENED, OPERATOR, act, contacts, new_case, run_until
from workflows.core import compliance, entry
from workflows.core.refusal import Refusal

NOON = OPENED + timedelta(hours=2)  # 12:00 in Shanghai, inside the contact window


def other(step: str, at_hours: float, channel: Channel = Channel.SMS) -> ContactRecord:
    return ContactRecord(
        key=f"case-L-other/g1/{step}",
        channel=channel,
        purpose=step,
        at=OPENED + timedelta(hours=at_hours),
        outcome=ContactOutcome.SENT,
    )


def test_the_shell_hands_over_only_what_a_cap_window_can_see() -> None:
    """Records older than the longest cap window are dropped; at most 50 are kept."""
    case = new_case()
    now = OPENED + timedelta(days=10)
    old = other("reminder-0", 0)
    recent = [other(f"manual-{i}", 24 * 9 + i / 10, Channel.CALL) for i in range(60)]
    entry.borrower_contacts(case, [old, *recent], now)
    kept = case.s.borrower_contacts
    assert len(kept) == 50
    assert [k.step for k in kept] == [r.purpose for r in recent[-50:]]
    assert all(k.channel is Channel.CALL and k.at > now - timedelta(days=8) for k in kept)
    assert entry.borrower_query(case, "B-1", now).since == now - timedelta(days=8)
    assert entry.borrower_query(case, "B-1", now).channel is None


def test_another_loans_sms_defers_this_one_and_the_reason_says_so() -> None:
    """The SMS daily cap counts the other loan's SMS, and the deferral names the other loans."""
    case = new_case()
    assert case.gate(Channel.SMS, NOON).verdict is compliance.Verdict.SEND
    entry.borrower_contacts(case, [other("reminder-0", 1)], NOON)
    decision = case.gate(Channel.SMS, NOON)
    assert decision.verdict is compliance.Verdict.DEFER
    assert decision.until == OPENED + timedelta(hours=25)
    assert decision.reason == "SMS daily cap; counting 1 sms contact on other loans"


def test_the_reason_does_not_blame_other_loans_when_the_case_alone_defers() -> None:
    """A deferral the case's own log explains is not put on the borrower's other loans."""
    case = new_case()
    night = OPENED + timedelta(hours=14)  # 22:00 in Shanghai
    entry.borrower_contacts(case, [other("reminder-0", 1, Channel.CALL)], night)
    decision = case.gate(Channel.SMS, night)
    assert decision.verdict is compliance.Verdict.DEFER
    assert decision.reason == "outside the borrower's contact hours"


def test_a_reminder_waits_for_the_other_loans_sms_to_leave_the_daily_window() -> None:
    """Driven like the shell: the first SMS reminder goes a day after the other loan's SMS."""
    alone = contacts(run_until(new_case(), OPENED + timedelta(days=3)))[0]
    case = new_case()
    entry.borrower_contacts(case, [other("reminder-0", 0)], OPENED)
    # the other loan texted an hour before this case's first reminder was due
    case.s.borrower_contacts[0].at = alone.at - timedelta(hours=1)
    first = contacts(run_until(case, OPENED + timedelta(days=3)))[0]
    assert first.channel is Channel.SMS
    assert first.at >= alone.at + timedelta(hours=23)
    deferred = next(r for r in case.s.contacts if r.outcome is ContactOutcome.DEFERRED)
    assert "on other loans" in deferred.reason


def test_an_operators_call_is_refused_when_the_other_loans_used_up_the_calls() -> None:
    """Seven calls in seven days across the borrower's loans: the logged call is refused."""
    case = new_case()
    calls = [other(f"manual-{i}", -24 * i, Channel.CALL) for i in range(7)]
    for record in calls:
        record.outcome = ContactOutcome.UNANSWERED
    entry.borrower_contacts(case, calls, NOON)
    call = c.ManualContactInput(outcome=c.ManualContactOutcome.NO_ANSWER)
    with pytest.raises(Refusal) as refused:
        act(case, N.MANUAL_CONTACT, call, OPERATOR, NOON)
    assert refused.value.code == "gate"
    assert "7 calls in 7 days" in refused.value.en and "on other loans" in refused.value.en


def test_contact_due_tries_on_a_copy() -> None:
    """The shell's look-ahead names the channel a wake will contact on, and leaves the case
    untouched."""
    case = new_case()
    first = contacts(run_until(new_case(), OPENED + timedelta(days=3)))[0]
    before = case.s.model_dump()
    assert entry.contact_due(case, OPENED) is None
    assert entry.contact_due(case, first.at) is Channel.SMS
    assert case.s.model_dump() == before
    ask = entry.borrower_query(case, "B-1", first.at, Channel.SMS)
    assert (ask.at, ask.channel, ask.grace_seconds) == (first.at, Channel.SMS, 3600)
