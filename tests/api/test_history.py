"""The audit timeline from Temporal history: actors, signals, the case's own events, timers,
continue-as-new runs; and the raw history on request."""

from __future__ import annotations

import json

from temporalio.client import WorkflowHistory

from api.timeline import build_timeline, fetch_case_histories
from tests.api.conftest import ApiHarness


async def test_timeline_names_who_did_what(api: ApiHarness) -> None:
    """Updates carry their actor; a second overdue event shows as a signal from the loan
    system; the case's events (opened, note, payment) and timers are in order."""
    event = api.overdue_event(strategy="slow")
    loan_id = event["loan_id"]
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    await api.post("system", "/v1/overdue-events", {**event, "amount_overdue": "1600.00"})
    await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": "left a voicemail"})
    payment = {"payment_ref": "P-7", "amount": "100.00", "paid_at": "2026-11-30T10:00:00Z"}
    await api.post("system", f"/v1/cases/{loan_id}/payments", payment)
    await api.wait_for(loan_id, lambda s: s["paid_total"] == "100.00")

    response = await api.get("auditor", f"/v1/cases/{loan_id}/history")
    assert response.status_code == 200, response.text
    timeline = response.json()
    entries = timeline["entries"]
    assert timeline["strategy"] == {"id": "slow", "version": 1}
    assert len(timeline["runs"]) == 1
    assert entries[0]["kind"] == "run_started" and "strategy slow v1" in entries[0]["summary"]
    updates = [(e["name"], e["actor"]) for e in entries if e["kind"] == "update"]
    assert ("add_note", {"id": "operator-1", "role": "operator"}) in updates
    assert ("record_payment", {"id": "system-1", "role": "system"}) in updates
    signal = next(e for e in entries if e["kind"] == "signal")
    assert signal["name"] == "amount_updated" and signal["actor"]["id"] == "system-1"
    assert signal["details"]["amount_overdue"] == "1600.00"
    case_events = [e["name"] for e in entries if e["kind"] == "case_event"]
    assert case_events[:1] == ["opened"]
    assert {"amount", "note", "payment"} <= set(case_events)
    assert any(e["kind"] == "timer" for e in entries)
    assert all(e["stage"] == "reminding" for e in entries)

    raw = await api.get("auditor", f"/v1/cases/{loan_id}/history?format=temporal")
    assert raw.status_code == 200
    history = WorkflowHistory.from_json(f"case-{loan_id}", raw.text)
    assert history.run_id == timeline["runs"][0]
    assert json.loads(raw.text)["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


async def test_timeline_follows_continue_as_new(api: ApiHarness) -> None:
    """A case past its history bound continues-as-new at the next stage boundary: the
    timeline has both runs, oldest first, with the hand-over, and it is the same whether the
    API or the reusable functions build it."""
    loan_id = await api.open_case(strategy="chain")
    state = await api.wait_for(loan_id, lambda s: s["stage"] == "visit" and s["visits"])
    for i in range(20):  # each note adds a handful of history events: past the bound of 100
        await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": f"note {i}"})
    at = state["visits"][0]["proposed_at"]
    assert (await api.post("operator", f"/v1/cases/{loan_id}/visits", {"at": at})).is_success
    outcome = {"outcome": "not_home"}  # visit -> visit: a stage boundary
    assert (await api.post("operator", f"/v1/cases/{loan_id}/visits/outcome", outcome)).is_success
    await api.wait_for(loan_id, lambda s: s["run_number"] == 2 and len(s["visits"]) == 2)

    response = await api.get("auditor", f"/v1/cases/{loan_id}/history")
    timeline = response.json()
    assert len(timeline["runs"]) == 2
    marks = [(e["run"], e["kind"]) for e in timeline["entries"]]
    assert [m for m in marks if m[1] in ("run_started", "continued_as_new")] == [
        (1, "run_started"),
        (1, "continued_as_new"),
        (2, "run_started"),
    ]
    second = next(e for e in timeline["entries"] if e["run"] == 2)
    assert second["stage"] == "visit" and "continues the case" in second["summary"]
    notes = [e for e in timeline["entries"] if e["kind"] == "update" and e["name"] == "add_note"]
    assert len(notes) == 20 and all(e["run"] == 1 for e in notes)
    histories = await fetch_case_histories(api.client, f"case-{loan_id}")
    assert [h.run_id for h in histories] == timeline["runs"]
    rebuilt = build_timeline(histories).model_dump(mode="json")
    assert rebuilt["entries"][: len(timeline["entries"])] == timeline["entries"]
