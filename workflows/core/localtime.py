"""Local-time arithmetic in the borrower's IANA zone.

Kept in a plain module that the workflow imports through ``imports_passed_through()``: inside
the sandbox ``zoneinfo`` is a restricted proxy and ``astimezone`` fails (see FIELD-NOTES), while
this module's ``zoneinfo`` is the real one. ``tzdata`` is pinned so every worker agrees.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(at: datetime, tz: str) -> datetime:
    return at.astimezone(zone(tz))


def local_to_utc(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a wall-clock time; a time skipped by DST resolves forward."""
    naive = datetime.combine(day, at)
    local = naive.replace(tzinfo=zone(tz))
    instant = local.astimezone(UTC)
    # Round-tripping exposes a nonexistent wall time (spring-forward gap): take the later side.
    if instant.astimezone(zone(tz)).replace(tzinfo=None) != naive:
        instant = naive.replace(tzinfo=zone(tz), fold=1).astimezone(UTC)
    return instant


def local_midnight(day: date, tz: str) -> datetime:
    return local_to_utc(day, time(0, 0), tz)


def in_window(at: datetime, tz: str, start: time, end: time) -> bool:
    local = to_local(at, tz).time()
    return start <= local < end


def next_window_open(at: datetime, tz: str, start: time, end: time) -> datetime:
    """``at`` itself if inside [start, end) local time, otherwise the next opening."""
    if in_window(at, tz, start, end):
        return at
    local = to_local(at, tz)
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return local_to_utc(day, start, tz)


def local_date(at: datetime, tz: str) -> date:
    return to_local(at, tz).date()


def describe(at: datetime, tz: str) -> str:
    """A borrower-facing wall-clock time, e.g. '2026-12-03 10:00'."""
    return to_local(at, tz).strftime("%Y-%m-%d %H:%M")
