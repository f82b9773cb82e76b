"""When repeated failed logins lock an account, and for how long (pure: time is an argument).

Four failures in a row cost nothing; the fifth locks the account for a minute, and every
further failure after a lock has run out doubles the lock, up to a day. A success resets it.
An administrator can lift a lock at once (``collectflow users unlock`` or reset-password).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 4
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(days=1)


@dataclass(frozen=True)
class LoginCounters:
    failed_logins: int
    locked_until: datetime | None


def is_locked(counters: LoginCounters, now: datetime) -> bool:
    return counters.locked_until is not None and now < counters.locked_until


def lock_for(failures: int) -> timedelta | None:
    """How long the ``failures``-th consecutive failure locks the account (None: not at all)."""
    if failures <= FREE_FAILURES:
        return None
    doubling = min(failures - FREE_FAILURES - 1, 20)  # 2**20 minutes is far past the cap
    duration: timedelta = FIRST_LOCK * (2**doubling)
    return min(duration, MAX_LOCK)


def after_failure(counters: LoginCounters, now: datetime) -> LoginCounters:
    failures = counters.failed_logins + 1
    duration = lock_for(failures)
    return LoginCounters(failures, now + duration if duration else counters.locked_until)


def after_success() -> LoginCounters:
    return LoginCounters(0, None)
