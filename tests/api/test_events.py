"""Overdue events start exactly one case per loan, however often and however concurrently."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from models import tables as t
from tests.api.conftest import ApiHarness


async def test_event_starts_case_and_repeat_updates_amount(api: ApiHarness) -> None:
    """Issue test 1a: an event starts case-{loan}; the same loan again → same case, new amount."""
    event = api.overdue_event(strategy="slow")
    first = await api.post("system", "/v1/overdue-events", event)
    assert first.status_code == 202, first.text
    assert first.json() == {"case_id": f"case-{event['loan_id']}", "started": True}

    again = await api.post("system", "/v1/overdue-events", {**event, "amount_overdue": "1700.00"})
    assert again.status_code == 202
    assert again.json() == {"case_id": f"case-{event['loan_id']}", "started": False}

    state = await api.wait_for(event["loan_id"], lambda s: s["amount_overdue"] == "1700.00")
    assert state["stage"] == "reminding"
    assert state["balance"] == "1700.00"
    assert state["strategy"] == {"id": "slow", "version": 1}
    async with api.database.session() as session:
        row = (await session.exec(select(t.Loan).where(t.Loan.loan_id == event["loan_id"]))).one()
    assert row.amount_overdue == 1700 and row.borrower_id == event["borrower"]["id"]
    assert row.strategy_id == "slow"


async def test_fifty_concurrent_events_start_exactly_one_case(api: ApiHarness) -> None:
    """Issue test 1b: 50 events for one loan fired at once → one case, one `started: true`."""
    event = api.overdue_event(strategy="slow")
    responses = await asyncio.gather(
        *(api.post("system", "/v1/overdue-events", event) for _ in range(50))
    )
    assert [r.status_code for r in responses] == [202] * 50, [r.text for r in responses][:3]
    assert sum(r.json()["started"] for r in responses) == 1
    case_id = f"case-{event['loan_id']}"
    runs = [w async for w in api.client.list_workflows(f"WorkflowId = '{case_id}'")]
    assert len(runs) == 1
    async with api.database.session() as session:
        rows = (await session.exec(select(t.Loan).where(t.Loan.loan_id == event["loan_id"]))).all()
    assert len(rows) == 1


async def test_event_for_closed_case_refused_unless_new_due_date(api: ApiHarness) -> None:
    """A replayed event after the case closed → 409 saying how; a later due date reopens it."""
    event = api.overdue_event(strategy="slow")
    loan_id = event["loan_id"]
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    closed = await api.post("supervisor", f"/v1/cases/{loan_id}/close", {"reason": "recalled"})
    assert closed.status_code == 200 and closed.json()["stage"] == "closed"
    await api.client.get_workflow_handle(f"case-{loan_id}").result()

    replay = await api.post("system", "/v1/overdue-events", event)
    assert replay.status_code == 409
    assert "is closed (closed: recalled)" in replay.json()["detail"]

    later = await api.post("system", "/v1/overdue-events", {**event, "due_date": "2026-12-20"})
    assert later.status_code == 202 and later.json()["started"] is True
    state = await api.wait_for(loan_id, lambda s: s["stage"] == "reminding")
    assert state["due_date"] == "2026-12-20"


async def test_a_reopened_case_counts_a_retried_payment_once(api: ApiHarness) -> None:
    """A payment retried after its case closed and the loan reopened reaches the new case: it is
    the same payment, not a second one — whether the ended case or the late-payment store
    recorded it; a new payment counts."""
    event = api.overdue_event(strategy="slow")
    loan_id, case_id = event["loan_id"], f"case-{event['loan_id']}"
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    paid_at = "2026-12-05T10:00:00+08:00"
    first = {"payment_ref": "R-1", "amount": event["amount_overdue"], "paid_at": paid_at}
    paid = await api.post("system", f"/v1/cases/{loan_id}/payments", first)
    assert paid.status_code == 200 and paid.json()["stage"] == "resolved", paid.text
    await api.client.get_workflow_handle(case_id).result()
    # Money after the end is stored, never refused, and counted once however often it comes.
    late = {**first, "payment_ref": "R-L", "amount": "50.00"}
    for _ in range(2):
        answer = await api.post("system", f"/v1/cases/{loan_id}/payments", late)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["late_payments"], answer.json()["refund_due"]) == ("50.00", "50.00")

    later = await api.post("system", "/v1/overdue-events", {**event, "due_date": "2026-12-20"})
    assert later.status_code == 202 and later.json()["started"] is True
    await api.wait_for(loan_id, lambda s: s["stage"] == "reminding" and s["generation"] == 2)
    for again in (first, late):
        retried = await api.post("system", f"/v1/cases/{loan_id}/payments", again)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["paid_total"], retried.json()["payments"]) == ("0.00", [])
    second = {**first, "payment_ref": "R-2", "amount": "100.00"}
    counted = await api.post("system", f"/v1/cases/{loan_id}/payments", second)
    assert counted.status_code == 200, counted.text
    assert [p["payment_ref"] for p in counted.json()["payments"]] == ["R-2"]
    assert counted.json()["paid_total"] == "100.00"
    # The new case ends: its final state holds its own payments, not the earlier case's.
    rest = {**first, "payment_ref": "R-3", "amount": counted.json()["balance"]}
    assert (await api.post("system", f"/v1/cases/{loan_id}/payments", rest)).status_code == 200
    await api.client.get_workflow_handle(case_id).result()
    final = (await api.get("auditor", f"/v1/cases/{loan_id}")).json()
    assert sorted(p["payment_ref"] for p in final["payments"]) == ["R-2", "R-3"]
    assert (final["paid_total"], final["late_payments"]) == (event["amount_overdue"], "0.00")


async def test_an_event_naming_the_demo_strategy_is_refused_outside_development(
    api: ApiHarness,
) -> None:
    """Issue 16: the compressed-day demo strategy could be named by any overdue event in
    production; outside development it is a 422 on ``strategy`` and no case starts."""
    assert api.settings.env != "development"
    event = api.overdue_event(strategy="demo")
    refused = await api.post("system", "/v1/overdue-events", event)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["field"] == "strategy"
    assert "demo strategy" in error["msg"] and "COLLECTFLOW_ENV=development" in error["msg"]
    runs = [w async for w in api.client.list_workflows(f"WorkflowId = 'case-{event['loan_id']}'")]
    assert runs == []
