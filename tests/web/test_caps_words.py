"""A deferral the borrower's other loans caused reads in Chinese on the timeline too."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.timeline import TimelineEntry
from web.i18n import Translator
from web.timeline_text import words_for

SUMMARY = (
    "sms reminder-0: deferred until 2026-12-03T03:00:00+00:00 "
    "(SMS daily cap; counting 2 sms contacts on other loans)"
)


def test_the_other_loans_reason_has_chinese_words() -> None:
    """Each part of the gate's reason is translated, the other loans' count included."""
    entry = TimelineEntry(
        at=datetime(2026, 12, 2, tzinfo=UTC), run=1, run_id="r", event_id=1,
        source="case_event", stage="reminding", kind="contact", actor_id="collectflow",
        actor_role="system", summary=SUMMARY, details={},
    )  # fmt: skip
    words = words_for(Translator("zh-CN"), lambda at: at.astimezone(UTC).strftime("%m-%d %H:%M"))
    shown = words.summary(entry)
    assert (
        shown
        == "短信 reminder-0：推迟到 12-03 03:00（短信每日上限；计入借款人其他贷款的 2 次短信联系）"
    )
    english = words_for(Translator("en"), lambda at: at.isoformat())
    assert english.summary(entry) == SUMMARY
