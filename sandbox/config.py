"""Configuration of the Twilio sandbox: credentials, callback behaviour and the fault plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.settings import Settings

Target = Literal["messages", "calls"]
ALL_TARGETS: frozenset[Target] = frozenset({"messages", "calls"})


@dataclass(frozen=True)
class FaultConfig:
    """What the sandbox does wrong, and to whom. Replaced wholesale on every change (immutable)."""

    # Deterministic faults, consumed one per REST request to a target endpoint.
    fail_next: int = 0
    status: int = 500
    timeout_next: int = 0
    # A "timed out" request hangs this long, or until the client gives up, then answers 500.
    timeout_seconds: float = 30.0
    # True: the timed-out request still creates the resource, so the client's outcome is unknown.
    timeout_commits: bool = False
    # Random faults for chaos tests; one draw per request from a generator seeded with `seed`.
    error_rate_5xx: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None
    # Token bucket in front of the REST API; None switches rate limiting off.
    rate_limit_per_second: float | None = None
    rate_limit_burst: int = 1
    targets: frozenset[Target] = ALL_TARGETS
    # Per-number behaviour.
    invalid_numbers: frozenset[str] = frozenset()  # 400 / 21211
    unsubscribed_numbers: frozenset[str] = frozenset()  # 400 / 21610 for messages
    non_mobile_numbers: frozenset[str] = frozenset()  # 400 / 21614 for messages
    undelivered_numbers: frozenset[str] = frozenset()  # message ends "undelivered" (30003)
    no_answer_numbers: frozenset[str] = frozenset()  # call ends "no-answer"
    busy_numbers: frozenset[str] = frozenset()  # call ends "busy"
    callbacks_enabled: bool = True


@dataclass(frozen=True)
class SandboxConfig:
    account_sid: str
    auth_token: str
    public_base_url: str = "http://127.0.0.1:8088"
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Pause between lifecycle steps (queued -> sent -> delivered, ringing -> ...), in seconds.
    step_delay_seconds: float = 0.05
    callback_timeout_seconds: float = 5.0
    # Twilio retries a failed callback at most a little; one retry keeps the demo honest.
    callback_retries: int = 1
    call_duration_seconds: int = 15


def config_from_settings(settings: Settings) -> SandboxConfig:
    """The sandbox accepts exactly the credentials the workers are configured with."""
    return SandboxConfig(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        public_base_url=settings.twilio_base_url,
    )


def quiet_config(account_sid: str, auth_token: str) -> SandboxConfig:
    """A sandbox for batch runs (simulation, benchmarks): no status callbacks, no delays."""
    return SandboxConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        faults=FaultConfig(callbacks_enabled=False),
        step_delay_seconds=0.0,
    )
