"""Request and response bodies of the HTTP API, with the examples shown at ``/docs``.

Action bodies are the workflow's update inputs minus ``actor``: the actor always comes from the
API key, so a body that names one is refused rather than trusted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from api.schema_examples import EXAMPLES, examples_of, first_example
from api.strategies import NAME_PATTERN
from audit.export import Manifest
from audit.signing import Signature
from audit.timeline import TimelineEntry
from models import case as c
from models.common import SYSTEM_ACTOR, Actor, Borrower, Loan, Stage, validate_e164

# The examples shown at /docs are ``api.schema_examples``'s; routes import them from here too.
__all__ = ["EXAMPLES", "first_example"]


# ---------------------------------------------------------------- requests


class BorrowerIn(Borrower):
    """The borrower as the loan system sends it: name and phone required (the case itself
    carries neither since the vault, DESIGN §10; ``phone_ref`` is CollectFlow's own)."""

    name: str = Field(min_length=1, max_length=200)
    phone: Annotated[str, AfterValidator(validate_e164)]
    phone_ref: SkipJsonSchema[str] = Field(default="", max_length=0)


class OverdueEvent(Loan):
    """The loan system's overdue event (DESIGN §6): the loan, its borrower, and optionally
    the strategy to use (otherwise champion/challenger by a stable hash of the loan id)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=examples_of("overdue_event"))

    borrower: BorrowerIn
    strategy: str | None = Field(default=None, pattern=NAME_PATTERN)
    as_of: AwareDatetime | None = Field(
        default=None,
        description="when the loan system took these figures; an open case refuses an event "
        "older than the newest it has applied (409)",
    )

    def loan(self) -> Loan:
        return Loan.model_validate(self.model_dump(include=set(Loan.model_fields)))


class _ActionBody(BaseModel):
    """Mixin for action bodies: no unknown fields, and no ``actor`` (it comes from the key)."""

    model_config = ConfigDict(extra="forbid")

    actor: SkipJsonSchema[Actor] = SYSTEM_ACTOR

    @field_validator("actor", mode="before")
    @classmethod
    def _actor_comes_from_the_key(cls, value: object) -> object:
        raise ValueError("the actor is taken from your API key; do not send 'actor'")


class PaymentBody(_ActionBody, c.PaymentInput):
    model_config = ConfigDict(json_schema_extra=examples_of("payment"))


class ScheduleVisitBody(_ActionBody, c.ScheduleVisitInput):
    model_config = ConfigDict(json_schema_extra=examples_of("schedule_visit"))


class VisitOutcomeBody(_ActionBody, c.RecordVisitInput):
    model_config = ConfigDict(json_schema_extra=examples_of("visit_outcome"))


class NegotiationBody(_ActionBody, c.NegotiationInput):
    model_config = ConfigDict(json_schema_extra=examples_of("negotiation"))


class HardshipBody(_ActionBody, c.HardshipInput):
    model_config = ConfigDict(json_schema_extra=examples_of("hardship"))


class DisputeBody(_ActionBody, c.DisputeInput):
    model_config = ConfigDict(json_schema_extra=examples_of("dispute"))


class NoteBody(_ActionBody, c.NoteInput):
    model_config = ConfigDict(json_schema_extra=examples_of("note"))


class CeaseContactBody(_ActionBody, c.CeaseContactInput):
    model_config = ConfigDict(json_schema_extra=examples_of("cease_contact"))


class EscalationBody(_ActionBody, c.EscalationInput):
    model_config = ConfigDict(json_schema_extra=examples_of("escalation"))


class CloseBody(_ActionBody, c.CloseInput):
    model_config = ConfigDict(json_schema_extra=examples_of("close"))


InputT = TypeVar("InputT", bound=c.ActorAction)


def to_input(body: _ActionBody, input_type: type[InputT], actor: Actor) -> InputT:
    """The workflow's update input: the body's fields plus the caller's actor."""
    return input_type.model_validate({**body.model_dump(exclude={"actor"}), "actor": actor})


# ---------------------------------------------------------------- responses


class OverdueAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"case_id": "case-L-1001", "started": True}]}
    )

    case_id: str
    started: bool = Field(description="false when the event went to an already open case")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else c.money_str(value)


class CaseOut(c.CaseView):
    """The case state; money as decimal strings with two places."""

    @field_serializer(
        "amount_overdue",
        "balance",
        "paid_total",
        "settlement_amount",
        "refund_due",
        "late_payments",
    )
    def _cents(self, value: Decimal | None) -> str | None:
        return _money(value)


class CaseSummary(BaseModel):
    case_id: str
    loan_id: str
    stage: Stage | None
    region: str | None
    days_past_due: int | None
    assigned_agents: list[str]
    balance: str | None = Field(description="decimal string, from the search index")
    strategy_id: str | None
    status: str = Field(description="the workflow's status: running, completed, ...")
    started_at: datetime | None
    closed_at: datetime | None


class CaseList(BaseModel):
    cases: list[CaseSummary]
    query: str = Field(description="the Temporal visibility query that was run")


class Component(BaseModel):
    ok: bool
    detail: str = ""


class Health(BaseModel):
    status: str = Field(description="ok when every component is reachable, else degraded")
    temporal: Component
    database: Component
    sandbox: Component | None = Field(
        default=None, description="the local Twilio sandbox; checked in development only"
    )


# ---------------------------------------------------------------- audit

_RUN = "0193a7c2-5f1e-7b3a-9c41-2d8e6f0a1b23"
HISTORY_EXAMPLE: dict[str, Any] = {
    "case_id": "case-L-1001",
    "loan_id": "L-1001",
    "runs": 1,
    "entries": [
        {
            "at": "2026-11-21T01:00:00.120000Z",
            "run": 1,
            "run_id": _RUN,
            "event_id": 1,
            "seq": None,
            "source": "workflow",
            "stage": "reminding",
            "kind": "workflow_started",
            "actor_id": None,
            "actor_role": None,
            "summary": "case started on strategy default v1",
            "details": {
                "workflow_type": "CollectionCase",
                "task_queue": "collectflow",
                "strategy_id": "default",
                "strategy_version": "1",
                "loan_id": "L-1001",
                "borrower_id": "B-77",
                "amount_overdue": "1530.50",
            },
        },
        {
            "at": "2026-11-21T01:00:00.130000Z",
            "run": 1,
            "run_id": _RUN,
            "event_id": 5,
            "seq": 2,
            "source": "case_event",
            "stage": "reminding",
            "kind": "contact",
            "actor_id": "system",
            "actor_role": "system",
            "summary": "sms reminder-0 deferred until 2026-11-21T09:00:00+08:00 (quiet hours)",
            "details": {
                "step": "reminder-0",
                "outcome": "deferred",
                "until": "2026-11-21T09:00:00+08:00",
            },
        },
        {
            "at": "2026-11-21T02:14:09.551000Z",
            "run": 1,
            "run_id": _RUN,
            "event_id": 12,
            "seq": None,
            "source": "update",
            "stage": "reminding",
            "kind": "add_note",
            "actor_id": "op-7",
            "actor_role": "operator",
            "summary": "update add_note by op-7 (operator): text=left a voicemail",
            "details": {"text": "left a voicemail", "update_id": "note:7f3c"},
        },
    ],
}


class TemporalHistory(BaseModel):
    """``?format=temporal``: one run's raw history as ``WorkflowHistory.to_json`` writes it."""

    model_config = ConfigDict(extra="allow")

    events: list[dict[str, Any]]


class CaseHistory(BaseModel):
    """The audit timeline of a case, the same as ``collectflow audit timeline LOAN_ID --json``
    gives (both come from ``audit.timeline``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [HISTORY_EXAMPLE]})

    case_id: str
    loan_id: str
    runs: int = Field(description="how many runs the case has had (continue-as-new followed)")
    entries: list[TimelineEntry] = Field(description="in order: run by run, then by time")
    total: int | None = Field(default=None, description="entries in the whole timeline")
    offset: int = Field(default=0, description="index of the first entry on this page")
    next_offset: int | None = Field(
        default=None, description="offset of the next page; null on the last page"
    )


_DIGEST = "9f2c0b6e8a1d4c3b7e5f6a8d9c0b1a2e3f4d5c6b7a8e9f0d1c2b3a4e5f6d7c8b"
EXPORT_EXAMPLE: dict[str, Any] = {
    "manifest": {
        "format": "collectflow-audit-export/1",
        "workflow_id": "case-L-1001",
        "exported_at": "2027-01-05T08:00:00Z",
        "runs": [
            {
                "run_id": _RUN,
                "file": f"history-{_RUN}.json",
                "events": 3,
                "event_chain": [_DIGEST, _DIGEST, _DIGEST],
            }
        ],
        "files": [
            {"name": f"history-{_RUN}.json", "sha256": _DIGEST, "size": 2480},
            {"name": "timeline.json", "sha256": _DIGEST, "size": 612},
        ],
        "timeline_chain": [
            {"index": 0, "run_id": _RUN, "event_id": 1, "seq": None, "hash": _DIGEST}
        ],
        "timeline_head": _DIGEST,
        "seal": _DIGEST,
    },
    "files": {
        f"history-{_RUN}.json": '{"events": [{"eventId": "1", "eventType": '
        '"EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "...": "..."}]}',
        "timeline.json": '[\n{"actor_id":null,"at":"2026-11-21T01:00:00.120000Z","...":"..."}\n]\n',
    },
}


class CaseExport(BaseModel):
    """The verifiable export of ``collectflow audit export``, in one JSON document.

    To check it, write each of ``files`` byte for byte (UTF-8) under its name into an empty
    directory, write ``manifest`` as ``manifest.json`` the way the CLI does (``json.dumps(...,
    indent=2, sort_keys=True, ensure_ascii=False)`` plus a newline; ``audit.export.ExportBundle``
    does all of this, with ``signature`` as ``manifest.sig``), then run ``collectflow audit
    verify DIR --public-key export-signing-key.pem.pub``."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXPORT_EXAMPLE]})

    manifest: Manifest = Field(
        description="SHA-256 of every file, hash chains over history events and timeline "
        "entries, and a seal over the manifest itself"
    )
    files: dict[str, str] = Field(
        description="file name -> exact content: history-<run_id>.json per run (the raw "
        "Temporal history, WorkflowHistory.to_json) and timeline.json"
    )
    signature: Signature | None = Field(
        default=None,
        description="Ed25519 signature over manifest.json's exact bytes (manifest.sig), with "
        "the signing key's id; checked with the public key alone",
    )
