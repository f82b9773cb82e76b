"""A case driven only through HTTP (issue test 2, shortened to the IVR path): overdue event →
SMS and call reminders → the borrower presses 1 on the call (signed /gather) → promise →
payment → resolved, with the whole story in the timeline and the metrics."""

from __future__ import annotations

from tests.api.conftest import ApiHarness


async def test_reminders_ivr_promise_payment_resolved(api: ApiHarness) -> None:
    """The IVR press-1 path end to end, one-second strategy days."""
    loan_id = await api.open_case(strategy="fast")
    case_id = f"case-{loan_id}"

    state = await api.wait_for(
        loan_id,
        lambda s: any(r["channel"] == "call" and r["provider_sid"] for r in s["contact_log"]),
        within=60,
    )
    assert state["stage"] == "reminding"
    assert [r["purpose"] for r in state["contact_log"]][:2] == ["reminder-0", "reminder-1"]
    assert [s.channel for s in api.stand_ins.sent][:2] == ["sms", "call"]
    call = next(r for r in state["contact_log"] if r["channel"] == "call")

    gather = await api.signed_post(
        f"/webhooks/twilio/gather?case_id={case_id}",
        {"CallSid": call["provider_sid"], "Digits": "1", "CallStatus": "in-progress"},
    )
    assert gather.status_code == 200
    assert "还款承诺" in gather.text and "<Hangup" in gather.text
    state = await api.wait_for(loan_id, lambda s: s["stage"] == "follow_up")
    promise = state["promises"][0]
    assert promise["source"] == "ivr" and promise["amount"] == "1530.50"
    answered = next(r for r in state["contact_log"] if r["provider_sid"] == call["provider_sid"])
    assert answered["outcome"] == "answered"

    payment = {"payment_ref": "P-ivr", "amount": "1530.50", "paid_at": "2026-11-30T10:00:00Z"}
    paid = await api.post("system", f"/v1/cases/{loan_id}/payments", payment)
    assert paid.status_code == 200, paid.text
    assert paid.json()["stage"] == "resolved"
    await api.client.get_workflow_handle(case_id).result()
    final = (await api.get("auditor", f"/v1/cases/{loan_id}")).json()
    assert final["stage"] == "resolved" and final["balance"] == "0.00"
    assert [h["stage"] for h in final["stage_history"]] == ["reminding", "follow_up", "resolved"]
    assert api.stand_ins.sent[-1].key == f"{case_id}/g1/thank-you"

    entries = (await api.get("auditor", f"/v1/cases/{loan_id}/history")).json()["entries"]
    assert [e["kind"] for e in entries if e["source"] == "signal"] == ["ivr_response"]
    summaries = [e["summary"] for e in entries if e["source"] == "case_event"]
    assert any("borrower promised to pay (IVR key 1)" in s for s in summaries)
    assert any(s.startswith("payment P-ivr") for s in summaries)
    assert entries[-1]["kind"] == "workflow_completed" and entries[-1]["stage"] == "resolved"
    assert entries[-1]["details"]["stage"] == "resolved"

    metrics = (await api.http.get("/metrics")).text
    assert 'collectflow_cases_started_total{strategy="fast"}' in metrics
    assert 'collectflow_twilio_webhooks_total{kind="gather",result="signalled"}' in metrics
    assert 'collectflow_case_actions_total{route="payment",status="200"}' in metrics
