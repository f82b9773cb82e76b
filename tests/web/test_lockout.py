"""The lockout policy (pure) and the language choice."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import utc
from web import i18n, lockout
from web.i18n import catalogue


def test_four_failures_are_free_the_fifth_locks_for_a_minute() -> None:
    """Failures 1-4 do not lock; the fifth locks for one minute from the failure."""
    now = utc(2026, 12, 1, 9)
    counters = lockout.LoginCounters(0, None)
    for _ in range(4):
        counters = lockout.after_failure(counters, now)
        assert not lockout.is_locked(counters, now)
    counters = lockout.after_failure(counters, now)
    assert counters.locked_until == now + timedelta(minutes=1)
    assert lockout.is_locked(counters, now + timedelta(seconds=59))
    assert not lockout.is_locked(counters, now + timedelta(minutes=1))


def test_each_further_failure_doubles_the_lock_up_to_a_day() -> None:
    """Backoff: 1, 2, 4, 8 minutes ... and never more than a day."""
    assert [lockout.lock_for(n) for n in (5, 6, 7, 8)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8)
    ]
    assert lockout.lock_for(40) == timedelta(days=1)
    assert lockout.after_success() == lockout.LoginCounters(0, None)


def test_language_cookie_then_setting_then_browser() -> None:
    """The switcher's cookie wins, then the user's setting, then Accept-Language by q-value."""
    assert i18n.choose("en", "zh-CN", "zh-CN") == "en"
    assert i18n.choose(None, "en", "zh-CN,zh;q=0.9") == "en"
    assert i18n.choose(None, None, "fr-FR, en-GB;q=0.8, zh;q=0.9") == "zh-CN"
    assert i18n.choose(None, None, "fr-FR") == "zh-CN"
    assert i18n.choose("xx", None, "en-US") == "en"


def test_catalogues_hold_the_same_keys() -> None:
    """Every string exists in both languages, with the same placeholders."""
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert set(en) == set(zh)
    for key, text in en.items():
        assert sorted(_fields(text)) == sorted(_fields(zh[key])), key


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]
