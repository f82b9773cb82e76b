"""Case time: strategy days, the D+0 anchor, due dates. Time is always an argument."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from models.strategy import Strategy
from workflows.core import localtime
from workflows.core.state import CaseState


def days(strategy: Strategy, n: float) -> timedelta:
    return timedelta(seconds=strategy.day_seconds * n)


def real_days(strategy: Strategy) -> bool:
    return strategy.day_seconds == 86_400


def anchor(s: CaseState, strategy: Strategy) -> datetime:
    """D+0: the due date's local midnight, or the opening for compressed strategies."""
    if real_days(strategy):
        return localtime.local_midnight(s.due_date, s.timezone)
    return s.opened_at


def at_local_time(s: CaseState, strategy: Strategy, when: datetime, at: time | None) -> datetime:
    if at is None or not real_days(strategy):
        return when
    return localtime.local_to_utc(localtime.local_date(when, s.timezone), at, s.timezone)


def reminder_time(s: CaseState, strategy: Strategy, index: int) -> datetime:
    step = strategy.reminders[index]
    return at_local_time(s, strategy, anchor(s, strategy) + days(strategy, step.day), step.at)


def dpd(s: CaseState, strategy: Strategy, now: datetime) -> int:
    if real_days(strategy):
        return max(0, (localtime.local_date(now, s.timezone) - s.due_date).days)
    return int((now - s.opened_at).total_seconds() // strategy.day_seconds)


def dpd_reached(s: CaseState, strategy: Strategy, n: int) -> datetime:
    """The instant the loan becomes ``n`` days past due."""
    return anchor(s, strategy) + days(strategy, n)


def due_at(s: CaseState, strategy: Strategy, now: datetime, n: int) -> tuple[datetime, date]:
    """A commitment due ``n`` days out: the end of that local day, or now + n strategy days."""
    if real_days(strategy):
        day = localtime.local_date(now, s.timezone) + timedelta(days=n)
        return localtime.local_midnight(day + timedelta(days=1), s.timezone), day
    when = now + days(strategy, n)
    return when, localtime.local_date(when, s.timezone)


def days_until(s: CaseState, now: datetime, day: date) -> int:
    return (day - localtime.local_date(now, s.timezone)).days


def due_date_of(s: CaseState, strategy: Strategy, due: datetime) -> date:
    """The calendar day a due instant belongs to (real days: it ends at the next midnight)."""
    if real_days(strategy):
        return localtime.local_date(due - timedelta(microseconds=1), s.timezone)
    return localtime.local_date(due, s.timezone)
