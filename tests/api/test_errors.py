"""Bad input gets a 4xx naming the field, never a 500 (issue test 5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ApiHarness


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["field"] for error in response.json()["detail"]]


def _with_borrower(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**event, "borrower": {**event["borrower"], **changes}}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda e: {**e, "amount_overdue": "lots"}, "amount_overdue", "decimal"),
        (lambda e: {**e, "amount_overdue": "-5.00"}, "amount_overdue", "greater than zero"),
        (lambda e: {**e, "amount_overdue": "1.005"}, "amount_overdue", "decimal places"),
        (lambda e: {**e, "outstanding_balance": 12}, None, None),  # a JSON number is fine
        (lambda e: {k: v for k, v in e.items() if k != "borrower"}, "borrower", "required"),
        (lambda e: {**e, "due_date": "yesterday"}, "due_date", "date"),
        (lambda e: {**e, "currency": "cny"}, "currency", "pattern"),
        (lambda e: {**e, "loan_id": "L 1/../x"}, "loan_id", "pattern"),
        (lambda e: _with_borrower(e, phone="13800138000"), "borrower.phone", "E.164"),
        (lambda e: _with_borrower(e, phone="+861"), "borrower.phone", "phone"),
        (lambda e: _with_borrower(e, timezone="Mars/Olympus"), "borrower.timezone", "IANA"),
        (lambda e: _with_borrower(e, locale="fr-FR"), "borrower.locale", "unsupported locale"),
        (lambda e: _with_borrower(e, consent={"sms": "perhaps"}), "borrower.consent.sms", "bool"),
        (lambda e: {**e, "strategy": "nonexistent"}, "strategy", "unknown strategy"),
        (lambda e: {**e, "strategy": "Bad Name"}, "strategy", "pattern"),
        (lambda e: {**e, "surprise": True}, "surprise", "not permitted"),
    ],
)
async def test_overdue_event_field_errors(
    api: ApiHarness, change: Any, field: str | None, words: str | None
) -> None:
    """Each malformed overdue event names its field and says what is wrong."""
    response = await api.post("system", "/v1/overdue-events", change(api.overdue_event()))
    if field is None:
        assert response.status_code == 202, response.text
        return
    assert field in _fields(response)
    messages = " ".join(e["msg"] for e in response.json()["detail"] if e["field"] == field)
    assert words is not None and words.lower() in messages.lower(), messages


async def test_action_bodies_paths_and_queries(api: ApiHarness) -> None:
    """Unknown enums, wrong types, missing fields, a sent actor, bad path and query values."""
    path = "/v1/cases/L-1"
    outcome = await api.post("operator", f"{path}/visits/outcome", {"outcome": "abducted"})
    assert _fields(outcome) == ["outcome"]
    payment = await api.post("system", f"{path}/payments", {"amount": 5, "paid_at": "soon"})
    assert set(_fields(payment)) == {"payment_ref", "paid_at"}
    naive = await api.post(
        "system",
        f"{path}/payments",
        {"payment_ref": "P", "amount": "5", "paid_at": "2026-11-30T10:00:00"},
    )
    assert _fields(naive) == ["paid_at"] and "time zone" in naive.json()["detail"][0]["msg"]
    actor = await api.post(
        "operator", f"{path}/notes", {"text": "hi", "actor": {"id": "boss", "role": "admin"}}
    )
    assert _fields(actor) == ["actor"]
    negotiation = await api.post(
        "operator", f"{path}/negotiation", {"reason": "forgot", "result": "promise"}
    )
    assert _fields(negotiation) == ["body"]  # a rule across fields: named in the message
    assert "needs the field 'promise'" in negotiation.json()["detail"][0]["msg"]
    bad_path = await api.post("operator", "/v1/cases/L%201/notes", {"text": "hi"})
    assert _fields(bad_path) == ["loan_id"]
    bad_query = await api.get("auditor", "/v1/cases?stage=sleeping&min_dpd=-1&region=a'b")
    assert set(_fields(bad_query)) == {"stage", "min_dpd", "region"}
    bad_key = await api.http.post(
        f"{path}/notes",
        json={"text": "hi"},
        headers={**api.auth("operator"), "Idempotency-Key": ""},
    )
    assert _fields(bad_key) == ["Idempotency-Key"]


@pytest.mark.parametrize(
    ("content", "content_type", "field"),
    [
        (b"{not json", "application/json", "body"),
        (b"loan_id=L-1", "application/x-www-form-urlencoded", "body"),
        (b"plain words", "text/plain", "body"),
        (b"", "application/json", "body"),
        (b"[1, 2, 3]", "application/json", "body"),
        (b"null", "application/json", "body"),
        (b'"a string"', "application/json", "body"),
        (b"\xff\xfe\x00garbage", "application/json", "body"),
        (b'{"loan_id": ' * 200 + b"1" + b"}" * 200, "application/json", "loan_id"),
    ],
)
async def test_non_json_and_malformed_bodies_are_422(
    api: ApiHarness, content: bytes, content_type: str, field: str
) -> None:
    """Whatever the body, a bad one is a 422, never a 500."""
    response = await api.http.post(
        "/v1/overdue-events",
        content=content,
        headers={**api.auth("system"), "Content-Type": content_type},
    )
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["field"] == field
    assert field != "body" or "JSON" in error["msg"], error


async def test_huge_body_is_413(api: ApiHarness) -> None:
    """A body over 64 KiB is refused before it is parsed, announced or streamed."""
    event = api.overdue_event()
    event["borrower"]["address"] = "x" * 70_000
    response = await api.post("system", "/v1/overdue-events", event)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]

    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 4096

    streamed = await api.http.post(
        "/v1/overdue-events", content=chunks(), headers=api.auth("system")
    )
    assert streamed.status_code == 413


# ---------------------------------------------------------------- issue 16: NUL, dates, amounts

NUL = "\u0000"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda e: _with_borrower(e, name=f"王{NUL}芳"), "borrower.name", "NUL"),
        (lambda e: _with_borrower(e, address=NUL), "borrower.address", "NUL"),
        (lambda e: {**e, "loan_id": f"L-{NUL}"}, "loan_id", "NUL"),
        (lambda e: {**e, "due_date": "1899-12-31"}, "due_date", "between 1900-01-01"),
        (lambda e: {**e, "due_date": "2201-01-01"}, "due_date", "2200-12-31"),
        (lambda e: {**e, "amount_overdue": "0"}, "amount_overdue", "greater than zero"),
        (lambda e: {**e, "amount_overdue": "1234567890123456"}, "amount_overdue", "15 digits"),
        (lambda e: {**e, "outstanding_balance": "1" * 16}, "outstanding_balance", "15 digits"),
        (
            lambda e: {**e, "currency": "JPY", "amount_overdue": "1530.50"},
            "amount_overdue",
            "JPY amounts have no decimal places",
        ),
    ],
)
async def test_nul_dates_and_absurd_amounts_in_an_event_are_422(
    api: ApiHarness, change: Any, field: str, words: str
) -> None:
    response = await api.post("system", "/v1/overdue-events", change(api.overdue_event()))
    assert field in _fields(response), response.text
    messages = " ".join(e["msg"] for e in response.json()["detail"] if e["field"] == field)
    assert words.lower() in messages.lower(), messages


async def test_a_whole_amount_in_a_zero_decimal_currency_is_accepted(api: ApiHarness) -> None:
    event = api.overdue_event(currency="JPY", amount_overdue="15300", outstanding_balance="98000")
    response = await api.post("system", "/v1/overdue-events", {**event, "strategy": "slow"})
    assert response.status_code == 202, response.text


async def test_nul_dates_and_amounts_in_actions_queries_and_paths_are_422(api: ApiHarness) -> None:
    """Every place a request carries them: action bodies (also nested), queries, paths, forms;
    and amounts with more places than the case's own currency."""
    loan_id = await api.open_case(
        strategy="slow", currency="JPY", amount_overdue="15300", outstanding_balance="98000"
    )
    case = f"/v1/cases/{loan_id}"
    payment = {"payment_ref": "P-1", "amount": "100", "paid_at": "2026-11-30T10:00:00+08:00"}
    checks: list[tuple[Any, str, str]] = [
        (api.post("operator", f"{case}/notes", {"text": f"hi{NUL}"}), "text", "NUL"),
        (
            api.post("system", f"{case}/payments", {**payment, "payment_ref": NUL}),
            "payment_ref",
            "NUL",
        ),
        (
            api.post("system", f"{case}/payments", {**payment, "paid_at": "1850-01-01T00:00:00Z"}),
            "paid_at",
            "between 1900-01-01",
        ),
        (
            api.post("operator", f"{case}/visits", {"at": "2300-01-01T10:00:00+08:00"}),
            "at",
            "2200-12-31",
        ),
        (
            api.post(
                "operator",
                f"{case}/negotiation",
                {
                    "reason": "forgot",
                    "result": "promise",
                    "promise": {"amount": "100", "due_date": "2201-01-01"},
                },
            ),
            "promise.due_date",
            "2200-12-31",
        ),
        (
            api.post("system", f"{case}/payments", {**payment, "amount": "0"}),
            "amount",
            "greater than zero",
        ),
        (
            api.post("system", f"{case}/payments", {**payment, "amount": "1" * 16}),
            "amount",
            "15 digits",
        ),
        (
            api.post("system", f"{case}/payments", {**payment, "amount": "100.50"}),
            "amount",
            "JPY amounts have no decimal places",
        ),
        (
            api.post(
                "operator",
                f"{case}/negotiation",
                {
                    "reason": "forgot",
                    "result": "promise",
                    "promise": {"amount": "9.5", "due_in_days": 3},
                },
            ),
            "promise.amount",
            "JPY amounts have no decimal places",
        ),
        (api.get("auditor", "/v1/cases?region=a%00b"), "region", "NUL"),
        (api.get("auditor", f"{case}/history?run_id=%00"), "run_id", "NUL"),
        (api.get("auditor", "/v1/cases/L%00x"), "path", "NUL"),
        (
            api.signed_post(
                f"/webhooks/twilio/inbound?case_id=case-{loan_id}",
                {"MessageSid": "SM1", "From": "+8613800138000", "Body": f"hi{NUL}"},
            ),
            "Body",
            "NUL",
        ),
    ]
    for pending, field, words in checks:
        response = await pending
        assert field in _fields(response), (field, response.text)
        messages = " ".join(e["msg"] for e in response.json()["detail"] if e["field"] == field)
        assert words.lower() in messages.lower(), (field, messages)
    state = (await api.get("auditor", case)).json()
    assert state["paid_total"] == "0.00" and state["notes"] == []
    whole = await api.post("system", f"{case}/payments", payment)
    assert whole.status_code == 200, whole.text
