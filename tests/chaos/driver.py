"""Plays the scripts against the API (and the sandbox, for inbound STOP) through every fault.

Each request is retried with the same idempotency (``Idempotency-Key`` for actions, the
``payment_ref`` for payments) until the API gives a definite answer: transport errors (API or
Temporal down), 429/502/503/504 are retried after ``Retry-After``. A 500 is counted (it must
never happen) and retried too, so one bug does not hide the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.chaos.scenario import HARDSHIP_DAYS, Script, Step

SYSTEM = {"Authorization": "Bearer dev-system"}
OPERATOR = {"Authorization": "Bearer dev-operator"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor"}  # closes a case (the action table)
AUDITOR = {"Authorization": "Bearer dev-auditor"}
TERMINAL = frozenset({"resolved", "settled", "legal", "written_off", "closed"})
RETRYABLE = frozenset({429, 500, 502, 503, 504})
# An action's answers that say it is in: 202 when the state could not be read after it.
APPLIED = frozenset({200, 202})
GIVE_UP_AFTER = 600.0


class Driver:
    def __init__(self, api_url: str, sandbox_url: str, day_seconds: float) -> None:
        self.api = httpx.AsyncClient(base_url=api_url, timeout=30)
        self.sandbox = httpx.AsyncClient(base_url=sandbox_url, timeout=30)
        self.api_url = api_url
        self.day = day_seconds
        self.statuses: Counter[str] = Counter()
        self.retries = 0
        self.server_errors: Counter[str] = Counter()  # 5xx other than 503, by answer

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.sandbox.aclose()

    async def request(
        self, method: str, path: str, *, client: httpx.AsyncClient | None = None, **kw: Any
    ) -> httpx.Response:
        http = client or self.api
        deadline = time.monotonic() + GIVE_UP_AFTER
        while True:
            try:
                response = await http.request(method, path, **kw)
            except httpx.TransportError:
                self.statuses["transport_error"] += 1
                response = None
            if response is not None:
                self.statuses[str(response.status_code)] += 1
                if response.status_code >= 500 and response.status_code != 503:
                    self.server_errors[
                        f"{method} {response.status_code} {response.text[:160]}"
                    ] += 1
                if response.status_code not in RETRYABLE:
                    return response
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path}: no definite answer in {GIVE_UP_AFTER}s")
            self.retries += 1
            wait = 1.0
            if response is not None and response.headers.get("Retry-After", "").isdigit():
                wait = min(float(response.headers["Retry-After"]), 5.0)
            await asyncio.sleep(wait)

    async def open_case(self, script: Script) -> float:
        event = script.overdue_event(datetime.now(UTC))
        response = await self.request("POST", "/v1/overdue-events", json=event, headers=SYSTEM)
        if response.status_code != 202:
            raise RuntimeError(f"{script.loan_id}: overdue event {response.status_code}")
        return time.monotonic()

    async def play(self, script: Script, opened: float) -> None:
        for step in script.steps:
            delay = opened + step.day * self.day - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._step(script, step)

    async def _step(self, script: Script, step: Step) -> None:
        base = f"/v1/cases/{script.loan_id}"
        key = {"Idempotency-Key": f"{script.loan_id}-{step.kind}-{step.day}"}
        if step.kind == "stop":
            await self._stop(script)
            return
        if step.kind in ("new_phone", "reopen"):
            await self._repeat_event(script, step)
            return
        if step.kind == "pay":
            assert step.amount is not None and step.ref is not None
            body = {
                "payment_ref": step.ref,
                "amount": str(step.amount),
                "paid_at": datetime.now(UTC).isoformat(),
            }
            response = await self.request("POST", f"{base}/payments", json=body, headers=SYSTEM)
            if response.status_code in APPLIED:
                script.accepted_refs.append(step.ref)
        else:
            path, body = _action(step)
            started = time.time()
            response = await self.request(
                "POST",
                f"{base}/{path}",
                json=body,
                headers={**(SUPERVISOR if step.kind == "close" else OPERATOR), **key},
            )
            if response.status_code in APPLIED:
                # 202: applied, but the API could not read the state just then: read it now
                applied = response.json() if response.status_code == 200 else None
                state = applied or await self.state(script.loan_id)
                if step.kind == "note":
                    script.notes_accepted += 1
                elif step.kind == "dispute_open":
                    script.pauses.append((time.time(), float("inf")))
                elif step.kind == "dispute_resolve" and script.pauses:
                    script.pauses[-1] = (script.pauses[-1][0], started)
                elif step.kind == "hardship" and state.get("hardship_until"):
                    until = datetime.fromisoformat(state["hardship_until"]).timestamp()
                    script.pauses.append((time.time(), until))
        if response.status_code not in APPLIED:
            script.refused.append(f"{step.kind}: {response.status_code} {response.text[:200]}")

    async def _stop(self, script: Script) -> None:
        # No ?case_id=: as a borrower's reply really arrives, the API finds the case by the
        # sender's number (issue 16: the lookup by phone was never exercised).
        url = f"{self.api_url}/webhooks/twilio/inbound"
        body = {"from": script.phone, "to": "+15005550006", "body": "STOP", "url": url}
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            response = await self.request(
                "POST", "/sandbox/inbound", client=self.sandbox, json=body
            )
            if response.status_code == 200 and response.json().get("webhook_status") == 200:
                script.opted_out_at = time.time()
                return
            self.retries += 1
            await asyncio.sleep(1.0)
        script.refused.append("stop: the inbound webhook never answered 200")

    async def _repeat_event(self, script: Script, step: Step) -> None:
        """The loan system reports the loan again: a new phone on the open case, or (reopen)
        a later due date once the paid case has ended, which must start the next case."""
        now = datetime.now(UTC)
        if step.kind == "new_phone":
            event = script.overdue_event(now, phone=script.new_phone)
            response = await self.request("POST", "/v1/overdue-events", json=event, headers=SYSTEM)
            if response.status_code == 202:
                script.phone_changed_at = time.time()
            else:
                script.refused.append(f"new_phone: {response.status_code} {response.text[:200]}")
            return
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:  # the resolved run may still be finishing
            event = script.overdue_event(now, later_by_days=1)
            response = await self.request("POST", "/v1/overdue-events", json=event, headers=SYSTEM)
            if response.status_code == 202 and response.json().get("started"):
                script.reopened = True
                script.reopened_at = time.time()
                return
            self.retries += 1
            await asyncio.sleep(1.0)
        script.refused.append("reopen: the later overdue event never started a new case")

    async def state(self, loan_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/v1/cases/{loan_id}", headers=AUDITOR)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def raw_history(self, loan_id: str) -> dict[str, Any]:
        """The latest run's Temporal history (``WorkflowHistory.to_json``)."""
        response = await self.request(
            "GET", f"/v1/cases/{loan_id}/history", params={"format": "temporal"}, headers=AUDITOR
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def wait_terminal(self, loan_id: str, until: float) -> dict[str, Any]:
        while True:
            state = await self.state(loan_id)
            if state["stage"] in TERMINAL or time.monotonic() > until:
                return state
            await asyncio.sleep(1.0)


def _action(step: Step) -> tuple[str, dict[str, Any]]:
    if step.kind == "note":
        return "notes", {"text": "borrower called in; calm conversation"}
    if step.kind == "dispute_open":
        return "dispute", {"action": "open", "reason": "says the amount is wrong"}
    if step.kind == "dispute_resolve":
        return "dispute", {"action": "resolve", "resolution": "rejected", "reason": "checked"}
    if step.kind == "hardship":
        return "hardship", {"days": HARDSHIP_DAYS, "reason": "lost job last month"}
    if step.kind == "close":
        return "close", {"reason": "recalled", "notes": "recalled by the lender"}
    raise ValueError(step.kind)
