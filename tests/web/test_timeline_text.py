"""Timeline summaries in the viewer's language: the committed histories' entries in zh-CN
(sentences written here by hand), English unchanged, refusals by their code, and every note's
text through the one ``note_text`` function."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.replay import history_from_file
from audit.timeline import TimelineEntry, build_timeline
from web import timeline_text
from web.i18n import Translator
from web.timeline_shapes import CASE_EVENTS
from web.timeline_text import Words, words_for

HISTORIES = Path(__file__).parents[1] / "histories"


def _words(lang: str) -> Words:
    return words_for(Translator(lang), lambda at: at.astimezone(UTC).strftime("%m-%d %H:%M"))


def _entries() -> list[TimelineEntry]:
    return [
        entry
        for name in ("scenario2.json", "scenario3.json")
        for entry in build_timeline([history_from_file(HISTORIES / name)])
    ]


def _entry(kind: str, summary: str, source: str = "case_event", **details: str) -> TimelineEntry:
    return TimelineEntry(
        at=datetime(2026, 12, 2, tzinfo=UTC), run=1, run_id="r", event_id=1,
        source=source, stage="reminding", kind=kind, actor_id="op-1",
        actor_role="operator", summary=summary, details=details,
    )  # fmt: skip


def test_english_summaries_are_the_timelines_own() -> None:
    """An English reader sees exactly what the timeline (and the signed export) says."""
    words = _words("en")
    entries = _entries()
    assert entries
    assert [words.summary(e) for e in entries] == [e.summary for e in entries]


def test_committed_histories_read_in_chinese() -> None:
    """Every case event of a known kind, every run and timer entry has its Chinese sentence."""
    words = _words("zh-CN")
    shown = {e.summary: words.summary(e) for e in _entries()}
    assert shown["follow_up -> resolved: paid in full"] == "跟进中 → 已结清：已全额还清"
    assert shown["visit 1 outcome: met"] == "拜访 1 结果：见到本人"
    assert shown["supervisor decided: legal"] == "主管决定：法律程序"
    assert (
        shown["payment P-1-3 of 510.18; balance 0.00"] == "收到还款 P-1-3，金额 510.18；余额 0.00"
    )
    deferred = "sms thank-you: deferred until 2027-02-27T00:00:00+00:00 "
    deferred += "(outside the borrower's contact hours)"
    assert shown[deferred] == "短信 thank-you：推迟到 02-27 00:00（不在借款人的联系时段内）"
    assert shown["negotiation 1: reason unemployment, result installment_plan"] == (
        "协商 1：原因 失业，结果 分期还款"
    )
    assert (
        shown["case completed in stage resolved, balance 0.00"]
        == "案件结束，阶段 已结清，余额 0.00"
    )
    left = [
        e.summary
        for e in _entries()
        if words.summary(e) == e.summary
        and (e.source in ("timer", "workflow") or e.kind in CASE_EVENTS)
    ]
    assert left == []


def test_a_refusal_reads_in_chinese_by_its_code() -> None:
    entry = _entry("refused", "There is no pending request number 7.", code="no_request")
    assert _words("zh-CN").summary(entry) == "没有编号为 7 的待审批申请。"
    unknown = _entry("refused", "Something new.", code="not_a_code")
    assert _words("zh-CN").summary(unknown) == "Something new."


def test_an_unknown_shape_stays_in_english() -> None:
    entry = _entry("visit", "visit 3: something the core says only from next week")
    assert _words("zh-CN").summary(entry) == entry.summary


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_note_goes_through_note_text(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notes, a borrower's reply and a note update's text all reach the screen through
    ``note_text`` (where the vault's references will be resolved)."""
    monkeypatch.setattr(timeline_text, "note_text", lambda text: f"<{text}>")
    words = _words(lang)
    note = words.summary(_entry("note", "called back at noon"))
    reply = words.summary(_entry("note", "borrower wrote: pay friday"))
    update = words.summary(_entry("note", "update note by op-1", source="update", text="hi"))
    assert note == "<called back at noon>"
    assert "<pay friday>" in reply and "<hi>" in update


def test_a_reveal_reads_in_chinese() -> None:
    """The note a reveal leaves (who, when and why stand in the history) in the reader's words."""
    entry = _entry("note", "revealed the borrower's phone — why: calling back as asked")
    assert _words("zh-CN").summary(entry) == "查看了借款人的电话，原因：calling back as asked"
    assert _words("en").summary(entry) == entry.summary


def test_a_read_model_summary_reads_in_chinese() -> None:
    """The escalation queue's reason (a stage event's summary from the read model)."""
    text = "visit -> escalated: visit outcome refused"
    assert _words("zh-CN").event("stage", text) == "待上门 → 已升级：拜访结果：拒绝沟通"
    assert _words("en").event("stage", text) == text


def test_a_scoring_decision_and_an_offer_read_in_chinese() -> None:
    """The core's own assessment event (the segmented strategy's opening score) in zh-CN:
    score, segment and treatment in words, the three reasons in the core's Chinese; English
    unchanged. A hardship offer reads by its details."""
    from models import case as c
    from models.strategy import load_strategy
    from tests.factories import STRATEGIES, borrower, loan
    from workflows.core import effects as fx
    from workflows.core import entry, view

    opened_at = datetime(2026, 12, 1, 1, tzinfo=UTC)
    inp = c.CaseInput(
        loan=loan(amount="900.00", due=opened_at.date()),
        borrower=borrower(),
        strategy=load_strategy("segmented", STRATEGIES),
    )
    case, effects = entry.from_input(inp, "case-T", opened_at)
    effects += entry.on_timer(case, opened_at)  # the first wake scores the new case
    events = [view.case_event(case, e) for e in effects if isinstance(e, fx.Event)]
    (scored,) = [e for e in events if e.kind.value == "assessment"]
    assessed = _entry("assessment", scored.summary, **dict(scored.details))
    assert _words("en").summary(assessed) == scored.summary
    text = _words("zh-CN").summary(assessed)
    assert text.startswith(f"评估（评分卡 {scored.details['scorecard']}）：得分 ")
    assert "分群「需要分期方案」" in text and "处理方式「标准流程」" in text
    assert scored.details["reason_1_zh"] in text and scored.details["reason_3_zh"] in text
    grace = _entry("offer", "offered hardship grace: ...", offer="hardship_grace", count="0",
                   grace_days="30")  # fmt: skip
    assert _words("zh-CN").summary(grace) == "已提出困难宽限 30 天"
    skipped = _entry(
        "contact", "call reminder-1: not sent (the light_touch treatment sends SMS only)"
    )
    assert (
        _words("zh-CN").summary(skipped)
        == "电话 reminder-1：未发送（处理方式「轻度提醒」只发短信）"
    )


def test_a_notes_resend_marker_is_not_shown() -> None:
    """The field screen's ``[ref:…]`` marker is bookkeeping: the reader sees the note alone."""
    text = "evidence: photo image/jpeg, 220 bytes, sha256 ab12 [ref:ev-ab12-L-1]"
    assert timeline_text.note_text(text) == "evidence: photo image/jpeg, 220 bytes, sha256 ab12"
    assert (
        timeline_text.note_text("checked in [ref:98b1d3da-511a-4177]; fine") == "checked in; fine"
    )
