"""Request bodies of the sandbox's own endpoints (`/sandbox/...`), and the fault plan as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.config import FaultConfig, Target

# Fields where an explicit null means something ("unseeded", "no rate limit").
_NULLABLE = frozenset({"seed", "rate_limit_per_second"})
_NUMBER_SETS = frozenset(
    {
        "invalid_numbers",
        "unsubscribed_numbers",
        "non_mobile_numbers",
        "undelivered_numbers",
        "no_answer_numbers",
        "busy_numbers",
        "targets",
    }
)

Probability = Field(default=None, ge=0.0, le=1.0)


class FaultUpdate(BaseModel):
    """`POST /sandbox/faults`: every field given replaces the current value; others stay."""

    model_config = ConfigDict(extra="forbid")

    fail_next: int | None = Field(default=None, ge=0)
    status: Literal[429, 500, 503] | None = None
    timeout_next: int | None = Field(default=None, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    timeout_commits: bool | None = None
    error_rate_5xx: float | None = Probability
    timeout_rate: float | None = Probability
    seed: int | None = None
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)
    targets: list[Target] | None = None
    invalid_numbers: list[str] | None = None
    unsubscribed_numbers: list[str] | None = None
    non_mobile_numbers: list[str] | None = None
    undelivered_numbers: list[str] | None = None
    no_answer_numbers: list[str] | None = None
    busy_numbers: list[str] | None = None
    callbacks_enabled: bool | None = None

    def changes(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True)
        changes = {k: v for k, v in given.items() if v is not None or k in _NULLABLE}
        return {k: frozenset(v) if k in _NUMBER_SETS else v for k, v in changes.items()}


class InboundSms(BaseModel):
    """`POST /sandbox/inbound`: a borrower texts us. `to` defaults to the number that wrote last."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str | None = None
    body: str
    url: str


class KeyPress(BaseModel):
    """`POST /sandbox/calls/{sid}/press`. `url` defaults to the call's <Gather action>."""

    digits: str = Field(pattern=r"^[0-9*#]+$")
    url: str | None = None


def faults_json(plan: FaultConfig) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(plan).items()}
