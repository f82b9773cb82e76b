"""Schemathesis against real cases (issue 16 item 7): every operation's generated requests with
the path's ``loan_id`` replaced by a case that exists, and every Twilio webhook signed exactly
as Twilio signs it (``RequestValidator``) for a real ``?case_id=``, so the action bodies and the
webhook forms are fuzzed past the 404 and the 403. Bounded: a few examples per operation.

The OpenAPI document declares no links, so this is not schemathesis' link-driven state machine;
the state is the cases themselves: examples run one after another on the same open cases, and
each case must still answer afterwards.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from twilio.request_validator import RequestValidator

from models.settings import hash_api_key
from tests.chaos.stack import Stack

pytestmark = pytest.mark.integration

KEY = f"fuzz-admin-{secrets.token_urlsafe(24)}"
TOKEN = f"twilio-{secrets.token_urlsafe(24)}"
HEADERS = {"Authorization": f"Bearer {KEY}"}
EXAMPLES = 8
CASES = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "COLLECTFLOW_ENV": "development",  # the Twilio sandbox runs in development only
        "COLLECTFLOW_API_KEYS": json.dumps({hash_api_key(KEY): {"id": "admin-1", "role": "admin"}}),
        "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        "COLLECTFLOW_SESSION_SECRET": f"fuzz-session-secret-{uuid.uuid4().hex}",
    }
    # A strategy day of an hour: the fuzzing, not the cadence, moves the cases.
    running = Stack(tmp_path_factory.mktemp("fuzz"), day_seconds=3600, env=env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
    assert running.pids() == []


def open_case(http: httpx.Client) -> str:
    loan_id = f"F-{uuid.uuid4().hex[:10]}"
    event = {
        "loan_id": loan_id,
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": datetime.now(UTC).date().isoformat(),
        "strategy": "demo",
        "borrower": {
            "id": f"B-{loan_id}",
            "name": "王芳",
            "phone": f"+86135{uuid.uuid4().int % 10**8:08d}",
            "timezone": "Asia/Shanghai",
            "locale": "zh-CN",
            "region": "hz-west",
            "consent": {"sms": True, "call": True},
        },
    }
    response = http.post("/v1/overdue-events", json=event, headers=HEADERS)
    assert response.status_code == 202, response.text
    return loan_id


def sign(stack: Stack, case: schemathesis.Case[Any], loan_id: str) -> None:
    """A real ``case_id`` and Twilio's signature over the URL and the generated form."""
    case.query = {"case_id": f"case-{loan_id}"}
    form = case.body if isinstance(case.body, dict) else {}
    case.body = {str(k): str(v) for k, v in form.items()}
    url = f"{stack.api_url}{case.formatted_path}?case_id=case-{loan_id}"
    signature = RequestValidator(TOKEN).compute_signature(url, case.body)
    case.headers["X-Twilio-Signature"] = str(signature)


def test_generated_actions_and_signed_webhooks_on_real_cases(stack: Stack) -> None:
    """No 5xx for any generated body on a real case or any signed webhook form; some action
    bodies and some webhooks get past the look-up and the signature (else nothing was fuzzed);
    every case still answers afterwards."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loans = [open_case(http) for _ in range(CASES)]
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    answers: Counter[str] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"invalid operation in the spec: {result.err()}")
            continue
        operation = result.ok()
        webhook = operation.path.startswith("/webhooks/twilio/")
        if "{loan_id}" not in operation.path and not webhook:
            continue
        exercise = _exercise(stack, operation, loans, webhook, answers)
        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}"[:1500])
    print(dict(answers))  # what got past the look-up and the signature
    assert failures == [], "\n\n".join(failures[:10])
    passed = {k for k, n in answers.items() if n and not k.endswith((" 403", " 404", " 401"))}
    assert any(k.startswith("action ") for k in passed), answers
    assert any(k.startswith("webhook 2") for k in passed), answers
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        for loan_id in loans:
            assert http.get(f"/v1/cases/{loan_id}", headers=HEADERS).status_code == 200


def _exercise(
    stack: Stack, operation: Any, loans: list[str], webhook: bool, answers: Counter[str]
) -> Any:
    picks = iter(range(10**6))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def exercise(case: schemathesis.Case[Any]) -> None:
        loan_id = loans[next(picks) % len(loans)]
        if webhook:
            sign(stack, case, loan_id)
        else:
            case.path_parameters = {**(case.path_parameters or {}), "loan_id": loan_id}
        response = case.call(base_url=stack.api_url, headers=HEADERS)
        kind = "webhook" if webhook else "action"
        answers[f"{kind} {response.status_code}"] += 1
        case.validate_response(response, checks=[not_a_server_error])

    return exercise
