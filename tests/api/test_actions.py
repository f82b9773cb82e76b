"""Operator and system actions: new state on success, the case's sentence on refusal, 404 for
unknown cases, 409 saying how a closed case ended, and safe retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.api.conftest import ApiHarness

PAID_AT = "2026-11-30T10:00:00+08:00"


async def test_payments_are_idempotent_and_full_payment_resolves(api: ApiHarness) -> None:
    """Partial payment → balance as a decimal string; same payment_ref again → counted once;
    the rest → resolved; afterwards actions get 409 naming how the case ended."""
    loan_id = await api.open_case(strategy="slow")
    path = f"/v1/cases/{loan_id}/payments"
    partial = {"payment_ref": "P-1", "amount": "500.00", "paid_at": PAID_AT}

    first = await api.post("system", path, partial)
    assert first.status_code == 200, first.text
    assert first.json()["balance"] == "1030.50"
    assert first.json()["paid_total"] == "500.00"
    retried = await api.post("system", path, partial)
    assert retried.status_code == 200
    assert retried.json()["balance"] == "1030.50"
    assert len(retried.json()["payments"]) == 1
    assert retried.json()["payments"][0]["actor"] == {"id": "system-1", "role": "system"}

    rest = await api.post("system", path, {**partial, "payment_ref": "P-2", "amount": "1030.50"})
    assert rest.status_code == 200
    assert rest.json()["stage"] == "resolved" and rest.json()["balance"] == "0.00"

    await api.client.get_workflow_handle(f"case-{loan_id}").result()  # the thank-you is out
    late = await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": "called back"})
    assert late.status_code == 409
    assert late.json()["detail"].startswith(f"case case-{loan_id} is closed (resolved: paid")
    final = await api.get("auditor", f"/v1/cases/{loan_id}")
    assert final.status_code == 200 and final.json()["stage"] == "resolved"


async def test_action_that_does_not_fit_the_stage_gets_the_cases_sentence(
    api: ApiHarness,
) -> None:
    """A validator's refusal arrives as 409 with the workflow's own sentence."""
    loan_id = await api.open_case(strategy="slow")
    response = await api.post(
        "operator", f"/v1/cases/{loan_id}/visits", {"at": "2030-01-07T10:00:00+08:00"}
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot schedule visits: the case is in stage 'reminding'; this is possible "
        "in: visit."
    }


async def test_unknown_case_is_404(api: ApiHarness) -> None:
    """Reads and actions on a loan with no case answer 404."""
    assert (await api.get("auditor", "/v1/cases/L-nope")).status_code == 404
    assert (await api.get("auditor", "/v1/cases/L-nope/history")).status_code == 404
    note = await api.post("operator", "/v1/cases/L-nope/notes", {"text": "hello"})
    assert note.status_code == 404 and "no case case-L-nope" in note.json()["detail"]


async def test_idempotency_key_applies_an_action_once_and_actor_is_recorded(
    api: ApiHarness,
) -> None:
    """The same Idempotency-Key twice → one note; the note carries the key's actor."""
    loan_id = await api.open_case(strategy="slow")
    path = f"/v1/cases/{loan_id}/notes"
    headers = {**api.auth("operator"), "Idempotency-Key": "note-123"}
    for _ in range(2):
        response = await api.http.post(path, json={"text": "asked for a call"}, headers=headers)
        assert response.status_code == 200, response.text
    notes = response.json()["notes"]
    assert [n["text"] for n in notes] == ["asked for a call"]
    assert notes[0]["actor"] == {"id": "operator-1", "role": "operator"}


async def test_visit_flow_through_the_api(api: ApiHarness) -> None:
    """Visit stage: confirm with two collectors, record 'met' → negotiating; a plan → follow_up."""
    loan_id = await api.open_case(strategy="straight-to-visit")
    state = await api.wait_for(loan_id, lambda s: s["stage"] == "visit" and s["visits"])
    # A time agreed on the phone, a few seconds out: no outcome may come before the slot.
    slot = datetime.now(UTC) + timedelta(seconds=3)
    body = {"at": slot.isoformat(), "collectors": state["visits"][0]["collectors"]}
    scheduled = await api.post("operator", f"/v1/cases/{loan_id}/visits", body)
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["visits"][0]["scheduled_by"]["id"] == "operator-1"
    early = await api.post("operator", f"/v1/cases/{loan_id}/visits/outcome", {"outcome": "met"})
    assert early.status_code == 409 and "before it" in early.json()["detail"]
    await asyncio.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()) + 0.5)
    met = await api.post("operator", f"/v1/cases/{loan_id}/visits/outcome", {"outcome": "met"})
    assert met.status_code == 200 and met.json()["stage"] == "negotiating"
    plan = {
        "reason": "unemployment",
        "result": "installment_plan",
        "plan": {"count": 3, "frequency_days": 30, "first_due_in_days": 7},
    }
    agreed = await api.post("supervisor", f"/v1/cases/{loan_id}/negotiation", plan)
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["stage"] == "follow_up"
    assert len(agreed.json()["plan"]["installments"]) == 3
