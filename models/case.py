"""The case workflow's contract: its input, the state snapshot, and every signal and update.

New fields always get defaults, so histories recorded by older code still decode on replay.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.case_inputs import (
    ActorAction,
    AmountUpdate,
    CeaseContactInput,
    ChangeRequestInput,
    ChannelPreference,
    CloseInput,
    ContactStatusEvent,
    DecideRequestInput,
    DisputeInput,
    EscalationInput,
    HardshipInput,
    InboundMessage,
    IvrResponse,
    ManualContactInput,
    ManualContactOutcome,
    NegotiationInput,
    NegotiationResult,
    NoteInput,
    OfferSlotsInput,
    OverdueUpdateInput,
    PaymentInput,
    PlanTerms,
    PromiseTerms,
    ReassignInput,
    RecordVisitInput,
    ScheduleVisitInput,
    VisitAnswerInput,
)
from models.case_terms import (
    QUERY_STATE,
    SA_NAME_AGENTS,
    SA_NAME_BALANCE,
    SA_NAME_DPD,
    SA_NAME_REGION,
    SA_NAME_STAGE,
    SA_NAME_STRATEGY,
    SIGNAL_AMOUNT,
    SIGNAL_CONTACT_STATUS,
    SIGNAL_INBOUND,
    SIGNAL_IVR,
    SIGNAL_OPT,
    SIGNAL_PAYMENT,
    UPDATE_CEASE_CONTACT,
    UPDATE_CLOSE,
    UPDATE_DECIDE_REQUEST,
    UPDATE_DISPUTE,
    UPDATE_ESCALATION,
    UPDATE_HARDSHIP,
    UPDATE_MANUAL_CONTACT,
    UPDATE_NEGOTIATION,
    UPDATE_NOTE,
    UPDATE_OFFER_SLOTS,
    UPDATE_OVERDUE,
    UPDATE_PAYMENT,
    UPDATE_REASSIGN,
    UPDATE_RECORD_VISIT,
    UPDATE_REQUEST_CHANGE,
    UPDATE_SCHEDULE_VISIT,
    UPDATE_VISIT_ANSWER,
    AwareDatetime,
    CloseReason,
    ContactOutcome,
    DefaultReason,
    EscalationDecision,
    VisitOutcome,
)
from models.common import (
    SYSTEM_ACTOR,
    Actor,
    Borrower,
    Channel,
    Loan,
    Money,
    Stage,
    StrategyRef,
)
from models.strategy import Strategy

# ---------------------------------------------------------------- state


class ContactRecord(BaseModel):
    key: str
    channel: Channel
    purpose: str
    at: datetime
    outcome: ContactOutcome
    reason: str = ""
    until: datetime | None = None
    provider_sid: str | None = None
    connected: bool = False


class PaymentRecord(BaseModel):
    payment_ref: str
    amount: Decimal
    paid_at: datetime
    recorded_at: datetime
    actor: Actor


class Installment(BaseModel):
    index: int
    due_at: datetime
    due_date: date
    amount: Decimal
    status: Literal["pending", "kept", "broken", "replaced"] = "pending"
    reminded: bool = False


class InstallmentPlan(BaseModel):
    plan_no: int
    frequency_days: int
    total: Decimal
    # Payments already counted when the plan was agreed; installments are met from the rest.
    paid_before: Decimal
    created_at: datetime
    installments: list[Installment]


class Promise(BaseModel):
    seq: int
    due_at: datetime
    due_date: date
    amount: Decimal
    source: Literal["negotiation", "ivr", "settlement"] = "negotiation"
    status: Literal["pending", "kept", "broken", "replaced"] = "pending"
    paid_before: Decimal = Decimal("0")
    reminded: bool = False


class VisitRecord(BaseModel):
    visit_no: int
    proposed_at: datetime
    scheduled_at: datetime | None = None
    collectors: list[str] = Field(default_factory=list)
    outcome: VisitOutcome | None = None
    notes: str = ""
    recorded_by: Actor | None = None
    scheduled_by: Actor | None = None
    proposal_sent: bool = False
    reminder_sent: bool = False
    opened_at: datetime | None = None
    last_alert_at: datetime | None = None
    offered: list[datetime] = Field(default_factory=list)
    accepted: datetime | None = None
    proposed_by_borrower: datetime | None = None


class NegotiationRecord(BaseModel):
    seq: int
    at: datetime
    actor: Actor
    reason: DefaultReason
    monthly_income: Decimal | None = None
    essential_expenses: Decimal | None = None
    result: NegotiationResult
    details: dict[str, str] = Field(default_factory=dict)


class StageChange(BaseModel):
    at: datetime
    stage: Stage
    reason: str
    actor: Actor = SYSTEM_ACTOR


class Note(BaseModel):
    at: datetime
    actor: Actor
    text: str


class AllowedAction(BaseModel):
    action: str
    allowed: bool
    code: str = ""
    sentence_en: str = ""
    sentence_zh: str = ""


class ChangeRequestRecord(BaseModel):
    no: int
    kind: str
    by: Actor
    at: datetime
    status: str
    reason: str = ""
    close_reason: str | None = None
    corrected_amount: Decimal | None = None


class NextAction(BaseModel):
    kind: str
    at: datetime | None = None


class CaseState(BaseModel):
    """Everything a case knows; the ``state`` query returns it and continue-as-new carries it."""

    case_id: str
    loan_id: str
    stage: Stage = Stage.REMINDING
    currency: str
    amount_overdue: Decimal
    balance: Decimal
    paid_total: Decimal = Decimal("0")
    strategy: StrategyRef
    opened_at: datetime
    due_date: date
    days_past_due: int = 0
    next_action: NextAction | None = None
    reminder_index: int = 0
    contact_log: list[ContactRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    promises: list[Promise] = Field(default_factory=list)
    plan: InstallmentPlan | None = None
    past_plans: list[InstallmentPlan] = Field(default_factory=list)
    visits: list[VisitRecord] = Field(default_factory=list)
    negotiations: list[NegotiationRecord] = Field(default_factory=list)
    stage_history: list[StageChange] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    assigned_agents: list[str] = Field(default_factory=list)
    opted_out: list[Channel] = Field(default_factory=list)
    cease_contact: bool = False
    dispute_open: bool = False
    hardship_until: datetime | None = None
    graces_used: int = 0
    broken_count: int = 0
    callback_requested_at: datetime | None = None
    settlement_amount: Decimal | None = None
    terminal_reason: str | None = None
    legal_reference: str | None = None
    run_number: int = 1
    event_seq: int = 0
    alerts_sent: int = 0
    escalation_alert_at: datetime | None = None
    handled_sids: list[str] = Field(default_factory=list)

    @property
    def contact_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.contact_log:
            key = f"{record.channel.value}_{record.outcome.value}"
            counts[key] = counts.get(key, 0) + 1
        return counts


class CarriedState(BaseModel):
    """The core's whole state, carried by continue-as-new. The core validates it into its own
    ``CaseState``; readers of a history (the timeline) need only the stage and run."""

    model_config = ConfigDict(extra="allow")

    stage: Stage
    run_number: int


class CaseInput(BaseModel):
    loan: Loan
    borrower: Borrower
    strategy: Strategy
    # Set only by continue-as-new: the state the next run starts from.
    carried_state: CarriedState | None = None
    # A reopened loan's case is a new generation (its contact keys carry it).
    generation: int = Field(default=1, ge=1)
    # Channels the borrower opted out of on the loan's earlier case: an opt-out outlives it.
    do_not_contact: list[Channel] = Field(default_factory=list)
    # A reopened loan's case numbers its read-model events after the earlier case's (one case
    # id, one event sequence), and knows the payments that case recorded: a retried payment
    # that reaches the new case is the same payment, never a second one.
    seq_base: int = Field(default=0, ge=0)
    earlier_payment_refs: list[str] = Field(default_factory=list)
    messaging_task_queue: str = "collectflow-messaging"
    # Upsert the custom search attributes (CaseStage, Region, ...). Off only where the server
    # has not registered them, e.g. the time-skipping test server.
    search_attributes: bool = True


class CaseView(CaseState):
    """The query result: the state plus derived figures a reader wants at a glance."""

    contact_counts_by_kind: dict[str, int] = Field(default_factory=dict)
    region: str = ""
    terminal: bool = False
    generation: int = 1
    preferred_hours: list[time] = Field(default_factory=list)  # [start, end] when set
    refund_due: Decimal = Decimal("0")
    late_payments: Decimal = Decimal("0")
    requests: list[ChangeRequestRecord] = Field(default_factory=list)
    # Per role: each action a person in that role may take now, or the sentence why not.
    allowed_actions: dict[str, list[AllowedAction]] = Field(default_factory=dict)


class UpdateReceipt(BaseModel):
    """What an update answers: compact, so the history stays lean (the view is a query)."""

    stage: Stage
    balance: Decimal
    refund_due: Decimal = Decimal("0")
    next_action: NextAction | None = None


def money_str(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# The names of models.case_terms and models.case_inputs, re-exported: readers write c.Name.
__all__ = [
    "QUERY_STATE",
    "SA_NAME_AGENTS",
    "SA_NAME_BALANCE",
    "SA_NAME_DPD",
    "SA_NAME_REGION",
    "SA_NAME_STAGE",
    "SA_NAME_STRATEGY",
    "SIGNAL_AMOUNT",
    "SIGNAL_CONTACT_STATUS",
    "SIGNAL_INBOUND",
    "SIGNAL_IVR",
    "SIGNAL_OPT",
    "SIGNAL_PAYMENT",
    "UPDATE_CEASE_CONTACT",
    "UPDATE_CLOSE",
    "UPDATE_DECIDE_REQUEST",
    "UPDATE_DISPUTE",
    "UPDATE_ESCALATION",
    "UPDATE_HARDSHIP",
    "UPDATE_MANUAL_CONTACT",
    "UPDATE_NEGOTIATION",
    "UPDATE_NOTE",
    "UPDATE_OFFER_SLOTS",
    "UPDATE_OVERDUE",
    "UPDATE_PAYMENT",
    "UPDATE_REASSIGN",
    "UPDATE_RECORD_VISIT",
    "UPDATE_REQUEST_CHANGE",
    "UPDATE_SCHEDULE_VISIT",
    "UPDATE_VISIT_ANSWER",
    "ActorAction",
    "AmountUpdate",
    "AwareDatetime",
    "CeaseContactInput",
    "ChangeRequestInput",
    "ChannelPreference",
    "CloseInput",
    "CloseReason",
    "ContactOutcome",
    "ContactStatusEvent",
    "DecideRequestInput",
    "DefaultReason",
    "DisputeInput",
    "EscalationDecision",
    "EscalationInput",
    "HardshipInput",
    "InboundMessage",
    "IvrResponse",
    "ManualContactInput",
    "ManualContactOutcome",
    "Money",
    "NegotiationInput",
    "NegotiationResult",
    "NoteInput",
    "OfferSlotsInput",
    "OverdueUpdateInput",
    "PaymentInput",
    "PlanTerms",
    "PromiseTerms",
    "ReassignInput",
    "RecordVisitInput",
    "ScheduleVisitInput",
    "VisitAnswerInput",
    "VisitOutcome",
]
