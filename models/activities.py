"""Activity contracts: each activity's name and its one input and one output.

``workflows/`` calls activities by these names; ``activities/`` implements them under the same
names. Neither imports the other.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from models.case import (
    ContactOutcome,
    ContactRecord,
    InstallmentPlan,
    NegotiationRecord,
    NextAction,
    PaymentRecord,
    Promise,
    VisitRecord,
)
from models.common import Actor, Borrower, Channel, Loan, Stage, StrategyRef

SEND_SMS = "send_sms"
PLACE_CALL = "place_call"
ASSIGN_FIELD_AGENTS = "assign_field_agents"
NOTIFY_SUPERVISOR = "notify_supervisor"
SYNC_CASE = "sync_case"
BORROWER_CONTACTS = "borrower_contacts"
ESCALATION_DIGEST = "escalation_digest"
DIGEST_WORKFLOW = "EscalationDigest"
HAND_OFF_TO_LEGAL = "hand_off_to_legal"
SCAN_OVERDUE_LOANS = "scan_overdue_loans"

# Error types raised by activities that the workflow must recognise.
ERROR_CONTACT_REJECTED = "ContactRejected"


class SendSmsInput(BaseModel):
    key: str = Field(description="idempotency key {workflow_id}/{step}")
    case_id: str
    loan_id: str
    to: str
    body: str
    purpose: str
    locale: str
    # Since the vault (DESIGN §10): ``to`` is the phone's fingerprint and ``body`` has
    # ``{name}`` open; the activity resolves both from the borrower's sealed details.
    borrower_id: str | None = None
    template: str | None = None


class PlaceCallInput(BaseModel):
    key: str
    case_id: str
    loan_id: str
    to: str
    message: str
    locale: str
    purpose: str
    gather: bool = True
    borrower_id: str | None = None  # as SendSmsInput
    template: str | None = None


class ContactResult(BaseModel):
    outcome: ContactOutcome  # sent, rejected (permanent provider refusal) or unknown
    provider_sid: str | None = None
    error_code: str | None = None
    reason: str = ""
    text_sha256: str | None = None  # the rendered text's hash, when the activity rendered it


class AssignAgentsInput(BaseModel):
    case_id: str
    region: str
    visit_day: date
    count: int = 2


class AssignAgentsResult(BaseModel):
    agents: list[str] = Field(default_factory=list)
    reason: str = ""


class SupervisorAlert(BaseModel):
    key: str
    case_id: str
    loan_id: str
    kind: str
    message: str


class CaseEventKind(StrEnum):
    OPENED = "opened"
    STAGE = "stage"
    CONTACT = "contact"
    PAYMENT = "payment"
    AMOUNT = "amount"
    VISIT = "visit"
    NEGOTIATION = "negotiation"
    PROMISE = "promise"
    INSTALLMENT = "installment"
    HARDSHIP = "hardship"
    DISPUTE = "dispute"
    PREFERENCE = "preference"
    NOTE = "note"
    ESCALATION = "escalation"
    ALERT = "alert"
    CLOSED = "closed"
    CONTINUED = "continued"
    # wave 2: the core's own kinds that no wave-1 kind names
    REQUEST = "request"
    DETAILS = "details"
    RESUMED = "resumed"
    REFUSED = "refused"
    ARCHIVED = "archived"
    ASSESSMENT = "assessment"  # a scorecard's score, segment and treatment (issue 15)


class CaseEvent(BaseModel):
    seq: int
    at: datetime
    stage: Stage
    kind: CaseEventKind
    actor: Actor
    summary: str
    details: dict[str, str] = Field(default_factory=dict)


class CaseProjection(BaseModel):
    """What the read model needs: the case's current figures and the events since the last sync."""

    case_id: str
    loan_id: str
    borrower_id: str
    region: str
    stage: Stage
    currency: str
    amount_overdue: Decimal
    balance: Decimal
    days_past_due: int
    strategy: StrategyRef
    next_action: NextAction | None = None
    assigned_agents: list[str] = Field(default_factory=list)
    visits: list[VisitRecord] = Field(default_factory=list)
    plan: InstallmentPlan | None = None
    promises: list[Promise] = Field(default_factory=list)
    negotiations: list[NegotiationRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    events: list[CaseEvent] = Field(default_factory=list)
    # The workflow task's place in the case's life (activities/sync_order.py); None from runs
    # and simulations that do not say.
    synced_at: datetime | None = None
    history_length: int | None = None


class SyncResult(BaseModel):
    """The events a sync recorded, returned so that the history keeps them: the sync runs as a
    local activity, whose marker holds its result (not its input) for the auditor's timeline."""

    events: list[CaseEvent] = Field(default_factory=list)

    @classmethod
    def of(cls, events: list[CaseEvent]) -> SyncResult:
        """The events with long texts cut: a note's full text is already in the history as
        the update's input, and echoing it again would double what 200 long notes cost."""
        return cls(events=[_cut(e) for e in events])


class BorrowerContactsInput(BaseModel):
    """Which contacts the caps must see: the borrower's, on cases other than this one, since
    the longest cap window began (in the case's own clock).

    With ``at`` and ``channel`` (the contact about to be made, due since ``due_at``): a sibling
    case whose own contact fell due first (its next action; the smaller case id on a tie) and
    not longer than ``grace_seconds`` before ``at`` counts as a contact on ``channel`` now, so
    two loans that wake together do not both send."""

    case_id: str
    borrower_id: str
    since: datetime
    at: datetime | None = None
    due_at: datetime | None = None
    channel: Channel | None = None
    grace_seconds: int = 3600


class BorrowerContacts(BaseModel):
    contacts: list[ContactRecord] = Field(default_factory=list)


class DigestInput(BaseModel):
    as_of: datetime | None = None  # the schedule's tick (the workflow's clock); None: now
    limit: int = Field(default=50, ge=1, le=500)


class DigestEntry(BaseModel):
    loan_id: str
    decide_by: datetime | None = None  # None: past the deadline alert, no decision yet due
    overdue: bool = False


class EscalationDigest(BaseModel):
    """One digest of the cases awaiting a supervisor's escalation decision, nearest first."""

    as_of: datetime
    awaiting: int = 0
    overdue: int = 0
    entries: list[DigestEntry] = Field(default_factory=list)


ECHO_CHARS = 240


def _cut(event: CaseEvent) -> CaseEvent:
    def cut(text: str) -> str:
        return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"

    details = {k: cut(v) for k, v in event.details.items()}
    return event.model_copy(update={"summary": cut(event.summary), "details": details})


class LegalHandoffInput(BaseModel):
    case_id: str
    loan: Loan
    borrower: Borrower
    balance: Decimal
    days_past_due: int
    approved_by: Actor


class LegalHandoffResult(BaseModel):
    reference: str


class ScanInput(BaseModel):
    batch_size: int = 200
    as_of: date | None = None


class ScanResult(BaseModel):
    examined: int
    started: int
    already_open: int


__all__ = ["Channel"]
