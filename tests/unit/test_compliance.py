"""The compliance gate as pure functions: windows in the borrower's zone, caps, blocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.case import ContactOutcome, ContactRecord
from models.common import Channel
from models.strategy import ComplianceRules
from workflows import localtime
from workflows.compliance import ContactContext, Verdict, decide

RULES = ComplianceRules()
DAY = 86_400


def ctx(
    at: datetime, channel: Channel = Channel.SMS, tz: str = "Asia/Shanghai", **kw: object
) -> ContactContext:
    return ContactContext(channel=channel, at=at, timezone=tz, rules=RULES, day_seconds=DAY, **kw)  # type: ignore[arg-type]


def record(
    at: datetime,
    channel: Channel,
    outcome: ContactOutcome = ContactOutcome.SENT,
    connected: bool = False,
) -> ContactRecord:
    return ContactRecord(
        key=f"k/{at.isoformat()}",
        channel=channel,
        purpose="t",
        at=at,
        outcome=outcome,
        connected=connected,
    )


def test_contact_at_2330_local_is_deferred_to_0800_next_day_in_shanghai() -> None:
    """23:30 in Shanghai (no DST) waits for 08:00 the next local morning."""
    at = localtime.local_to_utc(date(2026, 12, 3), time(23, 30), "Asia/Shanghai")
    decision = decide(ctx(at))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == localtime.local_to_utc(date(2026, 12, 4), time(8, 0), "Asia/Shanghai")
    assert decision.until == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert "contact hours" in decision.reason


def test_contact_at_2330_before_spring_forward_lands_on_0800_daylight_time() -> None:
    """New York, the night before DST starts: 08:00 next day is 12:00 UTC, not 13:00."""
    at = localtime.local_to_utc(date(2027, 3, 13), time(23, 30), "America/New_York")
    assert at == datetime(2027, 3, 14, 4, 30, tzinfo=UTC)  # 23:30 EST
    decision = decide(ctx(at, tz="America/New_York"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert localtime.to_local(decision.until, "America/New_York").time() == time(8, 0)


def test_contact_at_2330_before_fall_back_lands_on_0800_standard_time() -> None:
    """Berlin, the night DST ends: 08:00 next day is 07:00 UTC."""
    at = localtime.local_to_utc(date(2026, 10, 24), time(23, 30), "Europe/Berlin")
    decision = decide(ctx(at, tz="Europe/Berlin"))
    assert decision.until == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_early_morning_waits_for_same_day_window() -> None:
    """06:00 local waits two hours, not a day."""
    at = localtime.local_to_utc(date(2026, 12, 3), time(6, 0), "Asia/Shanghai")
    assert decide(ctx(at)).until == localtime.local_to_utc(
        date(2026, 12, 3), time(8, 0), "Asia/Shanghai"
    )


def test_inside_window_sends_now() -> None:
    at = localtime.local_to_utc(date(2026, 12, 3), time(9, 30), "Asia/Shanghai")
    assert decide(ctx(at)).verdict is Verdict.SEND


def test_blocks_name_their_reason() -> None:
    at = localtime.local_to_utc(date(2026, 12, 3), time(10, 0), "Asia/Shanghai")
    assert (
        decide(ctx(at, opted_out=frozenset({Channel.SMS}))).reason
        == "the borrower opted out of sms"
    )
    assert decide(ctx(at, cease_contact=True)).reason == "the borrower asked us to cease contact"
    assert (
        decide(ctx(at, consent=frozenset({Channel.CALL}))).reason == "no consent to contact by sms"
    )
    assert decide(ctx(at, terminal=True)).verdict is Verdict.BLOCK
    assert "dispute" in decide(ctx(at, dispute_open=True)).reason
    # Opting out of SMS does not stop calls.
    assert decide(ctx(at, Channel.CALL, opted_out=frozenset({Channel.SMS}))).verdict is Verdict.SEND


def test_hardship_pause_defers_until_its_end_then_the_window() -> None:
    at = localtime.local_to_utc(date(2026, 12, 3), time(10, 0), "Asia/Shanghai")
    end = localtime.local_to_utc(date(2026, 12, 17), time(2, 0), "Asia/Shanghai")
    decision = decide(ctx(at, hardship_until=end))
    assert decision.until == localtime.local_to_utc(date(2026, 12, 17), time(8, 0), "Asia/Shanghai")
    assert "hardship" in decision.reason


def test_second_sms_in_a_day_waits_for_the_rolling_day() -> None:
    first = localtime.local_to_utc(date(2026, 12, 3), time(9, 30), "Asia/Shanghai")
    decision = decide(ctx(first + timedelta(hours=2), log=[record(first, Channel.SMS)]))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == first + timedelta(days=1)
    assert "SMS daily cap" in decision.reason


def test_no_call_within_seven_days_of_a_conversation() -> None:
    talk = localtime.local_to_utc(date(2026, 12, 3), time(10, 0), "Asia/Shanghai")
    decision = decide(
        ctx(
            talk + timedelta(days=2),
            Channel.CALL,
            log=[record(talk, Channel.CALL, ContactOutcome.ANSWERED, connected=True)],
        )
    )
    assert decision.until == talk + timedelta(days=7)


def test_unknown_outcomes_count_against_caps() -> None:
    """A send whose outcome is unknown may have reached the borrower: it counts."""
    first = localtime.local_to_utc(date(2026, 12, 3), time(9, 30), "Asia/Shanghai")
    log = [record(first, Channel.SMS, ContactOutcome.UNKNOWN)]
    assert decide(ctx(first + timedelta(hours=1), log=log)).verdict is Verdict.DEFER


def test_transactional_message_ignores_caps_but_not_window_or_opt_out() -> None:
    first = localtime.local_to_utc(date(2026, 12, 3), time(9, 30), "Asia/Shanghai")
    log = [record(first, Channel.SMS)]
    assert (
        decide(ctx(first + timedelta(hours=1), log=log, transactional=True, terminal=True)).verdict
        is Verdict.SEND
    )
    late = localtime.local_to_utc(date(2026, 12, 3), time(22, 0), "Asia/Shanghai")
    assert decide(ctx(late, transactional=True)).verdict is Verdict.DEFER
    assert (
        decide(ctx(first, transactional=True, opted_out=frozenset({Channel.SMS}))).verdict
        is Verdict.BLOCK
    )


ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]
START = datetime(2026, 10, 20, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    requests=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40 * 24 * 60),  # minutes after START
            st.sampled_from([Channel.SMS, Channel.CALL]),
            st.booleans(),  # whether a call connected
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_no_schedule_the_gate_approves_ever_breaks_a_rule(
    tz: str, requests: list[tuple[int, Channel, bool]]
) -> None:
    """Property: follow every verdict (send now, or at the deferred time) and check the log."""
    log: list[ContactRecord] = []
    for minutes, channel, connected in sorted(requests, key=lambda r: r[0]):
        at = max(START + timedelta(minutes=minutes), log[-1].at if log else START)
        decision = decide(ctx(at, channel, tz=tz, log=log))
        if decision.verdict is Verdict.BLOCK:
            continue
        when = decision.until if decision.verdict is Verdict.DEFER else at
        assert when is not None
        # The gate must approve the time it deferred to.
        assert decide(ctx(when, channel, tz=tz, log=log)).verdict is Verdict.SEND
        log.append(record(when, channel, connected=connected and channel is Channel.CALL))
    _assert_rules_hold(log, tz)


def _assert_rules_hold(log: list[ContactRecord], tz: str) -> None:
    day, week = timedelta(days=1), timedelta(days=7)
    for rec in log:
        local = localtime.to_local(rec.at, tz).time()
        assert RULES.window_start <= local < RULES.window_end
        same = [r for r in log if r.channel is rec.channel and rec.at - day < r.at <= rec.at]
        same_week = [r for r in log if r.channel is rec.channel and rec.at - week < r.at <= rec.at]
        if rec.channel is Channel.SMS:
            assert len(same) <= RULES.max_sms_day
            assert len(same_week) <= RULES.max_sms_7d
        else:
            assert len(same_week) <= RULES.max_call_attempts_7d
            assert len([r for r in same if r.connected]) <= RULES.max_connected_calls_day
            assert len([r for r in same if not r.connected]) <= RULES.max_unanswered_calls_day
            earlier_talks = [r for r in log if r.connected and r.at < rec.at]
            assert all(rec.at - t.at >= week for t in earlier_talks)


# The window's edges (08:00 opens, 21:00 closes) on ordinary days and on both New York DST days.
EDGE_DAYS = [
    ("Asia/Shanghai", date(2026, 12, 3)),
    ("America/New_York", date(2027, 3, 14)),  # spring forward: 02:00 EST -> 03:00 EDT
    ("America/New_York", date(2026, 11, 1)),  # fall back: 02:00 EDT -> 01:00 EST
]


@pytest.mark.parametrize(("tz", "day"), EDGE_DAYS)
@pytest.mark.parametrize(
    ("clock", "opens_now", "next_opening_day_offset"),
    [
        (time(7, 59), False, 0),
        (time(7, 59, 59), False, 0),
        (time(8, 0), True, None),
        (time(20, 59), True, None),
        (time(20, 59, 59), True, None),
        (time(21, 0), False, 1),
        (time(21, 1), False, 1),
    ],
)
def test_window_edges_in_local_time(
    tz: str, day: date, clock: time, opens_now: bool, next_opening_day_offset: int | None
) -> None:
    """07:59 waits for 08:00 the same local day; 08:00 and 20:59 send; 21:00 waits for 08:00
    the next local day, also across a DST change."""
    at = localtime.local_to_utc(day, clock, tz)
    assert localtime.to_local(at, tz).time() == clock
    decision = decide(ctx(at, tz=tz))
    if opens_now:
        assert decision.verdict is Verdict.SEND, decision
        return
    assert next_opening_day_offset is not None
    opening = localtime.local_to_utc(day + timedelta(days=next_opening_day_offset), time(8), tz)
    assert (decision.verdict, decision.until) == (Verdict.DEFER, opening)
    assert localtime.to_local(opening, tz).time() == time(8, 0)


def test_spring_forward_edges_are_an_hour_closer_in_utc() -> None:
    """On 2027-03-14 New York opens at 12:00 UTC (EDT) though 07:59 that morning is 11:59 UTC,
    and the 02:00-03:00 hour that never happens is outside the window."""
    assert localtime.local_to_utc(date(2027, 3, 14), time(8), "America/New_York") == datetime(
        2027, 3, 14, 12, 0, tzinfo=UTC
    )
    the_night_before = localtime.local_to_utc(date(2027, 3, 13), time(21), "America/New_York")
    assert the_night_before == datetime(2027, 3, 14, 2, 0, tzinfo=UTC)  # 21:00 EST
    in_the_gap = datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 03:30 EDT, just after the jump
    decision = decide(ctx(in_the_gap, tz="America/New_York"))
    assert decision.until == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)


def test_fall_back_repeated_hour_waits_for_0800_standard_time() -> None:
    """01:30 happens twice on 2026-11-01 in New York (05:30 and 06:30 UTC): both wait for
    08:00 EST, 13:00 UTC; 20:59 EST that evening (01:59 UTC next day) still sends."""
    opening = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    for first_or_second in (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    ):
        assert localtime.to_local(first_or_second, "America/New_York").time() == time(1, 30)
        assert decide(ctx(first_or_second, tz="America/New_York")).until == opening
    late = datetime(2026, 11, 2, 1, 59, tzinfo=UTC)
    assert decide(ctx(late, tz="America/New_York")).verdict is Verdict.SEND
    closed = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 21:00 EST
    assert decide(ctx(closed, tz="America/New_York")).verdict is Verdict.DEFER
