"""The audit timeline from Temporal history, served by GET /history: the same timeline as
``collectflow audit timeline`` (both are ``audit.timeline``): actors, signals, the case's own
events, timers, continue-as-new runs; and the raw history on request."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHistory

from api import vaulting
from audit.timeline import TimelineEntry, build_timeline, fetch_case_histories
from tests.api.conftest import ApiHarness


async def test_timeline_names_who_did_what(api: ApiHarness) -> None:
    """Updates carry their actor; a second overdue event shows as an update from the loan
    system; the case's events (opened, note, payment) and timers are in order."""
    event = api.overdue_event(strategy="slow")
    loan_id = event["loan_id"]
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    # Let the case open first: a signal that arrives before the first workflow task is handled
    # before the run starts, so "amount" would be logged ahead of "opened".
    await api.wait_for(loan_id, lambda s: s["event_seq"] >= 1)
    await api.post("system", "/v1/overdue-events", {**event, "amount_overdue": "1600.00"})
    await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": "left a voicemail"})
    payment = {"payment_ref": "P-7", "amount": "100.00", "paid_at": "2026-11-30T10:00:00Z"}
    await api.post("system", f"/v1/cases/{loan_id}/payments", payment)
    await api.wait_for(loan_id, lambda s: s["paid_total"] == "100.00")

    response = await api.get("auditor", f"/v1/cases/{loan_id}/history")
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert (timeline["case_id"], timeline["loan_id"], timeline["runs"]) == (
        f"case-{loan_id}",
        loan_id,
        1,
    )
    entries = timeline["entries"]
    first = entries[0]
    assert first["kind"] == "workflow_started" and first["run"] == 1
    assert (first["details"]["strategy_id"], first["details"]["strategy_version"]) == ("slow", "1")
    assert "strategy slow v1" in first["summary"]
    updates = [
        (e["kind"], e["actor_id"], e["actor_role"]) for e in entries if e["source"] == "update"
    ]
    assert ("add_note", "operator-1", "operator") in updates
    assert ("record_payment", "system-1", "system") in updates
    # The repeat event is an update, applied or refused whole (DESIGN §2).
    repeat = next(e for e in entries if e["kind"] == "overdue_update")
    assert repeat["source"] == "update" and repeat["actor_id"] == "system-1"
    assert repeat["details"]["amount_overdue"] == "1600.00"
    case_events = [e["kind"] for e in entries if e["source"] == "case_event"]
    assert case_events[:1] == ["opened"]
    assert {"amount", "note", "payment"} <= set(case_events)
    assert any(e["kind"] == "timer_started" for e in entries)
    assert all(e["stage"] == "reminding" for e in entries)
    assert {e["run"] for e in entries} == {1}

    raw = await api.get("auditor", f"/v1/cases/{loan_id}/history?format=temporal")
    assert raw.status_code == 200
    history = WorkflowHistory.from_json(f"case-{loan_id}", raw.text)
    assert history.run_id == first["run_id"]
    assert json.loads(raw.text)["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


async def test_timeline_follows_continue_as_new(api: ApiHarness) -> None:
    """A case past its history bound continues-as-new as soon as its handlers are done: the
    timeline has both runs, oldest first, with the hand-over, and it is exactly what the CLI's
    functions build from the same histories."""
    loan_id = await api.open_case(strategy="chain")
    state = await api.wait_for(loan_id, lambda s: s["stage"] == "visit" and s["visits"])
    for i in range(20):  # each note adds a handful of history events: past the bound of 100
        await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": f"note {i}"})
    slot = datetime.now(UTC) + timedelta(seconds=2)  # no outcome may come before the slot
    body = {"at": slot.isoformat(), "collectors": state["visits"][0]["collectors"]}
    assert (await api.post("operator", f"/v1/cases/{loan_id}/visits", body)).is_success
    await asyncio.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()) + 0.5)
    outcome = {"outcome": "not_home"}  # the next visit: a new step for the case
    assert (await api.post("operator", f"/v1/cases/{loan_id}/visits/outcome", outcome)).is_success
    await api.wait_for(loan_id, lambda s: s["run_number"] == 2 and len(s["visits"]) == 2)

    response = await api.get("auditor", f"/v1/cases/{loan_id}/history")
    timeline = response.json()
    assert timeline["runs"] == 2
    entries = timeline["entries"]
    marks = [(e["run"], e["kind"]) for e in entries]
    assert [m for m in marks if m[1] in ("workflow_started", "continued_as_new")] == [
        (1, "workflow_started"),
        (1, "continued_as_new"),
        (2, "workflow_started"),
    ]
    second = next(e for e in entries if e["run"] == 2)
    assert second["stage"] == "visit" and second["summary"].startswith("run 2 started")
    assert second["details"]["continued_from"] == entries[0]["run_id"]
    notes = [e for e in entries if e["source"] == "update" and e["kind"] == "add_note"]
    assert len(notes) == 20 and {e["run"] for e in notes} <= {1, 2}  # none lost at the hand-over
    assert [e["run"] for e in entries] == sorted(e["run"] for e in entries)

    histories = await fetch_case_histories(api.client, f"case-{loan_id}")
    assert len(histories) == 2
    # The API opens the notes' sealed references for its reader (DESIGN §10); so does this.
    vault = vaulting.vault_for(api.database, api.settings)
    rebuilt = await vaulting.opened_entries(vault, build_timeline(histories))
    served = [TimelineEntry.model_validate(e) for e in entries]
    assert rebuilt[: len(served)] == served

    api.settings.history_max_runs = 1  # a request reads a bounded number of runs
    for url in (f"/v1/cases/{loan_id}/history", f"/v1/cases/{loan_id}/export"):
        refused = await api.get("auditor", url)
        assert refused.status_code == 413, refused.text
        assert "more than 1 runs" in refused.text and "COLLECTFLOW_HISTORY_MAX_RUNS" in refused.text


async def test_unknown_case_is_404(api: ApiHarness) -> None:
    """No case for the loan: 404 for the timeline, the raw history and the export."""
    for path in ("history", "history?format=temporal", "export"):
        response = await api.get("auditor", f"/v1/cases/L-no-such-case/{path}")
        assert response.status_code == 404, (path, response.text)


async def test_history_pages_and_export_and_run_caps(api: ApiHarness) -> None:
    """Issue 16: history and export had no size cap or pagination. Pages of 3 entries followed
    by next_offset add up to the whole timeline; the page size is capped by settings; an
    export or raw history over the byte cap and a case over the run cap are 413 sentences."""
    loan_id = await api.open_case(strategy="slow")
    await api.wait_for(loan_id, lambda s: s["event_seq"] >= 1)
    for text in ("one", "two", "three"):
        assert (await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": text})).is_success
    path = f"/v1/cases/{loan_id}/history"
    whole = (await api.get("auditor", f"{path}?limit=10000")).json()
    assert whole["total"] == len(whole["entries"]) > 6 and whole["next_offset"] is None
    pages: list[Any] = []
    offset: int | None = 0
    while offset is not None:
        page = (await api.get("auditor", f"{path}?limit=3&offset={offset}")).json()
        assert len(page["entries"]) <= 3 and page["offset"] == offset
        pages += page["entries"]
        offset = page["next_offset"]
    # The case may still be writing (a sync after the last note): pages read a growing
    # timeline, so they are the whole one as read before, and a prefix of it as read after.
    after = (await api.get("auditor", f"{path}?limit=10000")).json()["entries"]
    assert pages[: len(whole["entries"])] == whole["entries"]
    assert pages == after[: len(pages)]
    api.settings.history_page_max = 2
    assert len((await api.get("auditor", f"{path}?limit=50")).json()["entries"]) == 2
    assert (await api.get("auditor", f"{path}?limit=0")).status_code == 422

    api.settings.export_max_bytes = 1024
    for url in (f"/v1/cases/{loan_id}/export", f"{path}?format=temporal"):
        capped = await api.get("auditor", url)
        assert capped.status_code == 413, capped.text
        assert "COLLECTFLOW_EXPORT_MAX_BYTES" in capped.json()["detail"]
    api.settings.export_max_bytes = 32 * 1024 * 1024
    assert (await api.get("auditor", f"/v1/cases/{loan_id}/export")).status_code == 200
