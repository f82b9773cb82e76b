"""Hostile input (issue 8): schemathesis over the OpenAPI spec with every role's key, forged,
replayed, oversized and malformed webhooks, a burst of concurrent updates on one case, and
secrets kept out of storage and logs.

One real stack for the module (Temporal dev server, sandbox, worker, API under uvicorn, as
processes), configured like production: random hashed API keys, a random Twilio token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from twilio.request_validator import RequestValidator

from api import auth
from audit.signing import generate_key
from models.settings import Settings, hash_api_key
from tests.chaos.stack import Stack
from tests.conftest import TEST_PAYLOAD_KEYS, TEST_VAULT_ENV
from workers.codec import new_key_text

pytestmark = pytest.mark.integration

ROLES = ("system", "operator", "supervisor", "auditor", "admin")
KEYS = {role: f"hostile-{role}-{secrets.token_urlsafe(24)}" for role in ROLES}
TOKEN = f"twilio-{secrets.token_urlsafe(24)}"
MAX_EXAMPLES = 20
BURST = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    keys = {hash_api_key(k): {"id": f"{role}-1", "role": role} for role, k in KEYS.items()}
    signing_key = tmp_path_factory.mktemp("keys") / "export-signing-key.pem"
    generate_key(signing_key)
    env = {
        "COLLECTFLOW_ENV": "test",  # no demo keys
        "COLLECTFLOW_API_KEYS": json.dumps(keys),
        "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        "COLLECTFLOW_EXPORT_SIGNING_KEY": str(signing_key),
        "COLLECTFLOW_PAYLOAD_KEYS": json.dumps({"hostile-1": new_key_text()}),
        "COLLECTFLOW_SESSION_SECRET": f"hostile-session-secret-{uuid.uuid4().hex}",
        **TEST_VAULT_ENV,  # the borrower vault's keys (DESIGN §10)
    }
    # The cases run the default strategy (days of a day): nothing is sent while the tests poke
    # them.
    running = Stack(tmp_path_factory.mktemp("hostile"), day_seconds=3600, env=env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
    assert running.pids() == []


def auth_header(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def open_case(http: httpx.Client) -> str:
    loan_id = f"H-{uuid.uuid4().hex[:10]}"
    event = {
        "loan_id": loan_id,
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": datetime.now(UTC).date().isoformat(),
        "strategy": "default",  # a production-like stack refuses the demo strategy
        "borrower": {
            "id": f"B-{loan_id}",
            "name": "王芳",
            "phone": f"+86137{uuid.uuid4().int % 10**8:08d}",
            "timezone": "Asia/Shanghai",
            "locale": "zh-CN",
            "region": "hz-west",
            "consent": {"sms": True, "call": True},
        },
    }
    response = http.post("/v1/overdue-events", json=event, headers=auth_header("system"))
    assert response.status_code == 202, response.text
    return loan_id


def state(http: httpx.Client, loan_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/cases/{loan_id}", headers=auth_header("auditor"))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def signed(stack: Stack, path: str, form: dict[str, str]) -> dict[str, str]:
    signature = RequestValidator(TOKEN).compute_signature(stack.api_url + path, form)
    return {"X-Twilio-Signature": signature}


# ---------------------------------------------------------------- schemathesis


def test_schemathesis_finds_no_server_error_for_any_role(stack: Stack) -> None:
    """Every operation, every role's key, bounded examples: no 5xx, responses as documented."""
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # the spec itself is broken for this operation
            failures.append(f"invalid operation in the spec: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case[Any]) -> None:
            for role in ROLES:
                response = case.call(base_url=stack.api_url, headers=auth_header(role))
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # one report for every operation
            failures.append(f"{operation.label}: {exc}"[:1500])
    assert operations >= 15
    assert failures == [], "\n\n".join(failures[:10])


# ---------------------------------------------------------------- webhooks


def test_forged_oversized_and_malformed_webhooks_are_refused(stack: Stack) -> None:
    """Unsigned, wrongly signed, oversized and malformed bodies: 4xx, and the case unchanged."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loan_id = open_case(http)
        before = state(http, loan_id)
        path = f"/webhooks/twilio/inbound?case_id=case-{loan_id}"
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+8613700000000", "Body": "STOP"}
        wrong = RequestValidator("not-the-token").compute_signature(stack.api_url + path, form)
        answers = {
            "unsigned": http.post(path, data=form),
            "wrongly signed": http.post(path, data=form, headers={"X-Twilio-Signature": wrong}),
            "signed for another body": http.post(
                path, data={**form, "Body": "hi"}, headers=signed(stack, path, form)
            ),
            "oversized": http.post(
                path,
                content=b"Body=" + b"A" * 200_000,
                headers={
                    **signed(stack, path, form),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            ),
            "malformed multipart": http.post(
                path,
                content=b"--x\r\ngarbage",
                headers={
                    **signed(stack, path, form),
                    "Content-Type": "multipart/form-data; boundary=x",
                },
            ),
            "json instead of a form": http.post(
                path, json={"Body": "STOP"}, headers=signed(stack, path, form)
            ),
            "binary garbage": http.post(
                path,
                content=bytes(range(256)) * 4,
                headers={
                    **signed(stack, path, form),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            ),
        }
        statuses = {name: r.status_code for name, r in answers.items()}
        assert all(400 <= s < 500 for s in statuses.values()), statuses
        assert statuses["oversized"] == 413, statuses
        after = state(http, loan_id)
        assert after["opted_out"] == before["opted_out"] == []
        assert after["notes"] == before["notes"]


def test_replayed_webhook_changes_the_case_once(stack: Stack) -> None:
    """The same MessageSid five times: one note; STOP five times: one opt-out entry."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loan_id = open_case(http)
        path = f"/webhooks/twilio/inbound?case_id=case-{loan_id}"
        hello = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+8613700000000", "Body": "hi"}
        stop = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+8613700000000", "Body": "STOP"}
        for form in (hello, stop):
            for _ in range(5):
                response = http.post(path, data=form, headers=signed(stack, path, form))
                assert response.status_code == 200, response.text
        current = state(http, loan_id)
        assert [n["text"] for n in current["notes"]] == ["borrower wrote: hi"]
        assert current["opted_out"] == ["sms"]
        history = http.get(f"/v1/cases/{loan_id}/history", headers=auth_header("auditor"))
        assert history.status_code == 200, history.text
        opt_outs = [e for e in history.json()["entries"] if "STOP" in json.dumps(e)]
        # One signal reached the case and one case event recorded the opt-out: each once.
        assert Counter(e["source"] for e in opt_outs) == Counter(
            {e["source"]: 1 for e in opt_outs}
        ), opt_outs
        assert 1 <= len(opt_outs) <= 2, opt_outs


def test_replayed_webhook_across_an_api_restart_changes_the_case_once(stack: Stack) -> None:
    """A replay that reaches a freshly started API (empty memo) still changes nothing."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loan_id = open_case(http)
        path = f"/webhooks/twilio/inbound?case_id=case-{loan_id}"
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+8613700000000", "Body": "hi"}
        assert http.post(path, data=form, headers=signed(stack, path, form)).status_code == 200
    stack.stop_api()
    stack.start_api()
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        assert http.post(path, data=form, headers=signed(stack, path, form)).status_code == 200
        assert len(state(http, loan_id)["notes"]) == 1


# ---------------------------------------------------------------- concurrency


async def _burst(stack: Stack, loan_id: str) -> list[tuple[str, httpx.Response]]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
        start = asyncio.Event()

        async def one(i: int) -> tuple[str, httpx.Response]:
            text = f"burst note {i}"
            await start.wait()
            response = await http.post(
                f"/v1/cases/{loan_id}/notes", json={"text": text}, headers=auth_header("operator")
            )
            return text, response

        tasks = [asyncio.create_task(one(i)) for i in range(BURST)]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


def test_twenty_concurrent_updates_are_each_applied_once_or_pushed_back(stack: Stack) -> None:
    """20 notes at once: 200 (or 202: applied, state unreadable just then), or 429/503 with
    Retry-After; each accepted note is there once, and no pushed-back note is there at all."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loan_id = open_case(http)
        results = asyncio.run(_burst(stack, loan_id))
        accepted = [text for text, r in results if r.status_code in (200, 202)]
        pushed_back = [r for _, r in results if r.status_code in (429, 503)]
        others = [(r.status_code, r.text[:300]) for _, r in results if r.status_code != 200]
        assert len(accepted) + len(pushed_back) == BURST, others
        assert all(r.headers.get("Retry-After", "").isdigit() for r in pushed_back)
        notes = [n["text"] for n in state(http, loan_id)["notes"]]
        assert sorted(notes) == sorted(accepted)


# ---------------------------------------------------------------- secrets


class _CountingKeys(dict[str, tuple[str, str]]):
    """The key table, counting the entries a lookup walks through."""

    walked = 0

    def items(self) -> Any:
        for item in super().items():
            self.walked += 1
            yield item


def test_api_keys_are_stored_hashed_and_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings hold SHA-256 digests only. A lookup compares the presented key's digest with
    every stored digest through hmac.compare_digest, whether the match is first, last or absent:
    no early exit whose timing would tell how far a guess got."""
    keys = {hash_api_key(k): {"id": f"{role}-1", "role": role} for role, k in KEYS.items()}
    configured = Settings(
        env="test", api_keys=keys, twilio_auth_token=TOKEN, payload_keys=TEST_PAYLOAD_KEYS
    )
    dumped = configured.model_dump_json()
    assert not any(key in dumped for key in KEYS.values())
    assert set(configured.api_keys) == {
        hashlib.sha256(k.encode()).hexdigest() for k in KEYS.values()
    }
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def recording_compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording_compare)  # the module auth uses
    resolved = configured.resolved_api_keys()
    for presented, expected in (
        (KEYS[ROLES[0]], "system"),  # first entry
        (KEYS[ROLES[-1]], "admin"),  # last entry
        (KEYS["auditor"] + "x", None),  # no entry
    ):
        table = _CountingKeys(resolved)
        compared.clear()
        found = auth.resolve_key(presented, table)
        assert (found.role.value if found else None) == expected
        assert table.walked == len(resolved)
        digest = hash_api_key(presented).encode()
        assert sorted(compared) == sorted((stored.encode(), digest) for stored in resolved)


def test_keys_and_twilio_token_never_reach_the_logs(stack: Stack, tmp_path: Path) -> None:
    """After a burst of requests with every key (good and bad) and signed webhooks, no log line
    of any process holds an API key or the Twilio token."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        loan_id = open_case(http)
        for role in ROLES:
            http.get(f"/v1/cases/{loan_id}", headers=auth_header(role))
            http.post(f"/v1/cases/{loan_id}/notes", json={"text": "x"}, headers=auth_header(role))
            http.get("/v1/cases", headers={"Authorization": f"Bearer {KEYS[role]}-wrong"})
        path = f"/webhooks/twilio/status?case_id=case-{loan_id}"
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "delivered"}
        http.post(path, data=form, headers=signed(stack, path, form))
        http.post(path, data=form, headers={"X-Twilio-Signature": TOKEN})
    logs = stack.logs()
    assert "api" in logs and len(logs) > 1000
    leaked = [name for name, secret in {**KEYS, "twilio": TOKEN}.items() if secret in logs]
    assert leaked == []
