"""The sandbox's memory: outbox, fault plan, rate-limit bucket, opt-outs.

Every read and write goes through one lock, so the state stays consistent when a test inspects it
from another thread while uvicorn serves requests in its own loop. Nothing awaits under the lock.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from sandbox.config import FaultConfig, SandboxConfig, Target


@dataclass(frozen=True)
class FaultDecision:
    kind: Literal["error", "timeout"]
    status: int = 500
    # For timeouts: whether the request still creates its resource (outcome unknown to the client).
    commits: bool = False


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._faults = config.faults
        self._rng = random.Random(config.faults.seed)
        self._tokens = float(config.faults.rate_limit_burst)
        self._refilled_at = time.monotonic()
        # dicts keep insertion order, so the outbox lists resources oldest first.
        self._messages: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, dict[str, Any]] = {}

    # -- fault plan -----------------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        with self._lock:
            return self._faults

    def update_faults(self, changes: dict[str, Any]) -> FaultConfig:
        with self._lock:
            self._faults = replace(self._faults, **changes)
            if "seed" in changes:
                self._rng = random.Random(self._faults.seed)
            if {"rate_limit_per_second", "rate_limit_burst"} & changes.keys():
                self._tokens = float(self._faults.rate_limit_burst)
                self._refilled_at = time.monotonic()
            return self._faults

    def reset_faults(self) -> FaultConfig:
        with self._lock:
            self._faults = self.config.faults
            self._rng = random.Random(self._faults.seed)
            self._tokens = float(self._faults.rate_limit_burst)
            self._refilled_at = time.monotonic()
            return self._faults

    def decide_fault(self, target: Target) -> FaultDecision | None:
        """Consume one planned fault for this request, or draw a random one."""
        with self._lock:
            plan = self._faults
            if target not in plan.targets:
                return None
            if plan.fail_next > 0:
                self._faults = replace(plan, fail_next=plan.fail_next - 1)
                return FaultDecision("error", plan.status)
            if plan.timeout_next > 0:
                self._faults = replace(plan, timeout_next=plan.timeout_next - 1)
                return FaultDecision("timeout", commits=plan.timeout_commits)
            if plan.error_rate_5xx <= 0 and plan.timeout_rate <= 0:
                return None
            # One draw per request keeps a seeded run reproducible request by request.
            draw = self._rng.random()
            if draw < plan.timeout_rate:
                return FaultDecision("timeout", commits=plan.timeout_commits)
            if draw < plan.timeout_rate + plan.error_rate_5xx:
                return FaultDecision("error", 500)
            return None

    def take_rate_token(self) -> bool:
        with self._lock:
            rate = self._faults.rate_limit_per_second
            if rate is None:
                return True
            current = time.monotonic()
            burst = float(self._faults.rate_limit_burst)
            self._tokens = min(burst, self._tokens + (current - self._refilled_at) * rate)
            self._refilled_at = current
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    def set_subscribed(self, number: str, subscribed: bool) -> None:
        with self._lock:
            numbers = set(self._faults.unsubscribed_numbers)
            if subscribed:
                numbers.discard(number)
            else:
                numbers.add(number)
            self._faults = replace(self._faults, unsubscribed_numbers=frozenset(numbers))

    # -- outbox ---------------------------------------------------------------------------------

    def add_message(
        self, resource: dict[str, Any], status_callback: str | None = None
    ) -> dict[str, Any]:
        """Kept with the StatusCallback Twilio was given (it calls it back; its REST views
        never show it, see ``sandbox.listing.PRIVATE``)."""
        with self._lock:
            stored = {**copy.deepcopy(resource), "status_callback": status_callback}
            self._messages[resource["sid"]] = stored
            return copy.deepcopy(resource)

    def add_call(
        self, resource: dict[str, Any], twiml: str | None, status_callback: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            stored = {**copy.deepcopy(resource), "twiml": twiml, "status_callback": status_callback}
            self._calls[resource["sid"]] = stored
            return copy.deepcopy(resource)

    def messages(self) -> list[dict[str, Any]]:
        """Every message, oldest first, as the outbox holds it."""
        with self._lock:
            return copy.deepcopy(list(self._messages.values()))

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._calls.values()))

    def update_message(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        return self._update(self._messages, sid, fields)

    def update_call(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        return self._update(self._calls, sid, fields)

    def _update(
        self, table: dict[str, dict[str, Any]], sid: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        with self._lock:
            item = table.get(sid)
            if item is None:  # the outbox was cleared while a lifecycle was running
                return None
            item.update(fields)
            return copy.deepcopy(item)

    def message(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._messages.get(sid)
            return copy.deepcopy(item) if item is not None else None

    def call(self, sid: str) -> dict[str, Any] | None:
        """The call as stored, with its `twiml`."""
        with self._lock:
            item = self._calls.get(sid)
            return copy.deepcopy(item) if item is not None else None

    def outbox(self, to: str | None = None) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            messages = [m for m in self._messages.values() if to is None or m["to"] == to]
            calls = [c for c in self._calls.values() if to is None or c["to"] == to]
            return {"messages": copy.deepcopy(messages), "calls": copy.deepcopy(calls)}

    def clear_outbox(self) -> None:
        with self._lock:
            self._messages.clear()
            self._calls.clear()

    def last_sender_to(self, number: str) -> str | None:
        """The number we last texted (else called) `number` from: where its replies would go."""
        with self._lock:
            items = [*self._calls.values(), *self._messages.values()]
            senders = [i["from"] for i in items if i["to"] == number]
            return senders[-1] if senders else None
