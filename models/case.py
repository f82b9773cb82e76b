"""The case workflow's contract: its input, the state snapshot, and every signal and update.

New fields always get defaults, so histories recorded by older code still decode on replay.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from models.common import (
    SYSTEM_ACTOR,
    Actor,
    Borrower,
    Channel,
    Loan,
    Money,
    NonNegativeMoney,
    PlausibleDate,
    PlausibleDatetime,
    PositiveMoney,
    Stage,
    StrategyRef,
    validate_e164,
    validate_timezone,
)
from models.strategy import Strategy

# Names of the workflow's handlers: the API, the CLI and tests all address them by these.
QUERY_STATE = "state"
UPDATE_PAYMENT = "record_payment"
UPDATE_SCHEDULE_VISIT = "schedule_visit"
UPDATE_RECORD_VISIT = "record_visit"
UPDATE_NEGOTIATION = "record_negotiation"
UPDATE_HARDSHIP = "request_hardship"
UPDATE_DISPUTE = "dispute"
UPDATE_NOTE = "add_note"
UPDATE_CEASE_CONTACT = "cease_contact"
UPDATE_ESCALATION = "decide_escalation"
UPDATE_CLOSE = "close_case"
UPDATE_REASSIGN = "reassign_agents"
UPDATE_OFFER_SLOTS = "offer_slots"
UPDATE_VISIT_ANSWER = "visit_answer"
UPDATE_MANUAL_CONTACT = "log_contact"
UPDATE_REQUEST_CHANGE = "request_change"
UPDATE_DECIDE_REQUEST = "decide_request"
UPDATE_OVERDUE = "overdue_update"
SIGNAL_PAYMENT = "payment_received"
SIGNAL_AMOUNT = "amount_updated"
SIGNAL_CONTACT_STATUS = "contact_status"
SIGNAL_IVR = "ivr_response"
SIGNAL_INBOUND = "inbound_message"
SIGNAL_OPT = "channel_preference"

# Names of the case's custom search attributes (the workflow upserts them; the API lists cases
# by them). Types: CaseStage keyword, DaysPastDue int, Region keyword, AssignedAgents
# keyword list, Balance double, StrategyId keyword.
SA_NAME_STAGE = "CaseStage"
SA_NAME_DPD = "DaysPastDue"
SA_NAME_REGION = "Region"
SA_NAME_AGENTS = "AssignedAgents"
SA_NAME_BALANCE = "Balance"
SA_NAME_STRATEGY = "StrategyId"


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. 2026-11-30T10:00:00+08:00")
    return value


AwareDatetime = Annotated[PlausibleDatetime, AfterValidator(_aware)]


class DefaultReason(StrEnum):
    UNEMPLOYMENT = "unemployment"
    ILLNESS = "illness"
    BUSINESS_FAILURE = "business_failure"
    FORGOT = "forgot"
    DISPUTE = "dispute"
    OTHER = "other"


class VisitOutcome(StrEnum):
    MET = "met"
    NOT_HOME = "not_home"
    REFUSED = "refused"
    MOVED = "moved"
    UNSAFE = "unsafe"


class CloseReason(StrEnum):
    DECEASED = "deceased"
    BANKRUPTCY = "bankruptcy"
    FRAUD = "fraud"
    RECALLED = "recalled"


class EscalationDecision(StrEnum):
    ANOTHER_VISIT = "another_visit"
    SETTLEMENT = "settlement"
    LEGAL = "legal"
    WRITE_OFF = "write_off"


class ContactOutcome(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    DEFERRED = "deferred"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


# ---------------------------------------------------------------- actions (updates)


class ActorAction(BaseModel):
    actor: Actor = SYSTEM_ACTOR


class PaymentInput(ActorAction):
    payment_ref: str = Field(min_length=1, max_length=128)
    amount: PositiveMoney
    paid_at: AwareDatetime
    # A supervisor's manual payment must name the receipt it was taken against (DESIGN §3).
    receipt_ref: str | None = Field(default=None, min_length=1, max_length=128)


class ScheduleVisitInput(ActorAction):
    at: AwareDatetime
    collectors: list[str] = Field(default_factory=list, max_length=10)


class RecordVisitInput(ActorAction):
    outcome: VisitOutcome
    notes: str = Field(default="", max_length=4000)


def _one_of(first: object, second: object, names: str) -> None:
    if (first is None) == (second is None):
        raise ValueError(f"give exactly one of {names}")


class PromiseTerms(BaseModel):
    amount: PositiveMoney
    due_date: PlausibleDate | None = None
    due_in_days: int | None = Field(default=None, ge=0, le=3650)

    @model_validator(mode="after")
    def _one_due(self) -> PromiseTerms:
        _one_of(self.due_date, self.due_in_days, "'due_date' or 'due_in_days'")
        return self


class PlanTerms(BaseModel):
    count: int = Field(ge=1, le=120)
    frequency_days: int = Field(ge=1, le=92, description="strategy days between installments")
    first_due: PlausibleDate | None = None
    first_due_in_days: int | None = Field(default=None, ge=0, le=3650)

    @model_validator(mode="after")
    def _one_first_due(self) -> PlanTerms:
        _one_of(self.first_due, self.first_due_in_days, "'first_due' or 'first_due_in_days'")
        return self


class NegotiationResult(StrEnum):
    PROMISE = "promise"
    INSTALLMENT_PLAN = "installment_plan"
    HARDSHIP_GRACE = "hardship_grace"
    DISPUTE = "dispute"
    REFUSAL = "refusal"


class NegotiationInput(ActorAction):
    reason: DefaultReason
    monthly_income: NonNegativeMoney | None = None
    essential_expenses: NonNegativeMoney | None = None
    result: NegotiationResult
    promise: PromiseTerms | None = None
    plan: PlanTerms | None = None
    grace_days: int | None = Field(default=None, ge=1, le=365)
    notes: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _terms_match_result(self) -> NegotiationInput:
        needed = {
            NegotiationResult.PROMISE: ("promise", self.promise),
            NegotiationResult.INSTALLMENT_PLAN: ("plan", self.plan),
            NegotiationResult.HARDSHIP_GRACE: ("grace_days", self.grace_days),
        }.get(self.result)
        if needed and needed[1] is None:
            raise ValueError(f"result {self.result.value!r} needs the field {needed[0]!r}")
        return self


class HardshipInput(ActorAction):
    days: int = Field(ge=1, le=365)
    reason: str = Field(default="", max_length=2000)


class DisputeInput(ActorAction):
    action: Literal["open", "resolve"]
    reason: str = Field(default="", max_length=2000)
    # On resolving: "upheld" closes the case as recalled-by-lender; "rejected" resumes contact.
    resolution: Literal["upheld", "rejected"] | None = None
    corrected_amount: PositiveMoney | None = None


class NoteInput(ActorAction):
    text: str = Field(min_length=1, max_length=4000)


class CeaseContactInput(ActorAction):
    reason: str = Field(default="", max_length=2000)


class EscalationInput(ActorAction):
    decision: EscalationDecision
    settlement_amount: PositiveMoney | None = None
    notes: str = Field(default="", max_length=4000)


class CloseInput(ActorAction):
    reason: CloseReason
    notes: str = Field(default="", max_length=2000)


class ReassignInput(ActorAction):
    agents: list[str] = Field(min_length=1, max_length=10)


class ManualContactOutcome(StrEnum):
    RIGHT_PARTY = "right_party_contact"
    WRONG_PARTY = "wrong_party"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    PROMISE = "promise"
    REFUSED = "refused_to_pay"
    CALLBACK = "callback_requested"


class ManualContactInput(ActorAction):
    """An operator's own call to the borrower, logged: it counts toward the frequency caps."""

    channel: Channel = Channel.CALL
    outcome: ManualContactOutcome
    at: AwareDatetime | None = None
    promise: PromiseTerms | None = None
    notes: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _promise_with_promise(self) -> ManualContactInput:
        if (self.outcome is ManualContactOutcome.PROMISE) != (self.promise is not None):
            raise ValueError("'promise' is given exactly when the outcome is 'promise'")
        return self


class OfferSlotsInput(ActorAction):
    slots: list[AwareDatetime] = Field(min_length=1, max_length=5)
    collectors: list[str] = Field(default_factory=list, max_length=10)


class VisitAnswerInput(ActorAction):
    """The borrower's answer to a visit proposal (own page, SMS keyword or an operator's log)."""

    answer: Literal["accept", "propose", "reschedule"]
    slot: AwareDatetime | None = None

    @model_validator(mode="after")
    def _slot_when_needed(self) -> VisitAnswerInput:
        if self.answer in ("accept", "propose") and self.slot is None:
            raise ValueError(f"answer {self.answer!r} needs the field 'slot'")
        return self


class ChangeRequestInput(ActorAction):
    """An operator asks for what only a supervisor may do: a close or an amount correction."""

    kind: Literal["close", "amount_correction"]
    close_reason: CloseReason | None = None
    corrected_amount: PositiveMoney | None = None
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _terms_match_kind(self) -> ChangeRequestInput:
        if self.kind == "close" and self.close_reason is None:
            raise ValueError("a close request needs 'close_reason'")
        if self.kind == "amount_correction" and self.corrected_amount is None:
            raise ValueError("an amount correction needs 'corrected_amount'")
        return self


class DecideRequestInput(ActorAction):
    request_no: int = Field(ge=1)
    approve: bool
    notes: str = Field(default="", max_length=2000)


class OverdueUpdateInput(ActorAction):
    """A repeat overdue event for a running case: applied whole or refused whole."""

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount_overdue: PositiveMoney
    outstanding_balance: NonNegativeMoney | None = None
    as_of: AwareDatetime | None = None  # the loan system's time of the figures, if it sent one
    phone: Annotated[str, AfterValidator(validate_e164)] | None = None
    # Since the vault: the new phone's keyed fingerprint instead of the number (DESIGN §10).
    phone_ref: str | None = Field(default=None, max_length=64)
    timezone: Annotated[str, AfterValidator(validate_timezone)] | None = None
    region: str | None = None
    consent_sms: bool | None = None
    consent_call: bool | None = None


# ---------------------------------------------------------------- machine events (signals)


class AmountUpdate(BaseModel):
    amount_overdue: PositiveMoney
    outstanding_balance: NonNegativeMoney | None = None
    actor: Actor = SYSTEM_ACTOR


class ContactStatusEvent(BaseModel):
    provider_sid: str
    status: str  # the provider's word: delivered, undelivered, failed, completed, no-answer, ...
    error_code: str | None = None
    duration_seconds: int | None = None


class IvrResponse(BaseModel):
    provider_sid: str
    digits: str


class InboundMessage(BaseModel):
    provider_sid: str
    text: str = Field(max_length=2000)


class ChannelPreference(BaseModel):
    """An opt-out or opt-in for a channel, and/or the hours the borrower prefers to be
    contacted (local time; inside the strategy's contact hours, which still bind)."""

    channel: Channel
    opted_out: bool | None = None  # None: unchanged
    source: str = "inbound"
    actor: Actor = SYSTEM_ACTOR
    hours_start: time | None = None
    hours_end: time | None = None

    @model_validator(mode="after")
    def _hours_make_a_window(self) -> Self:
        given = (self.hours_start is None, self.hours_end is None)
        if given == (False, True) or given == (True, False):
            raise ValueError("preferred hours need both hours_start and hours_end")
        if self.hours_start and self.hours_end and self.hours_start >= self.hours_end:
            raise ValueError("hours_start must come before hours_end")
        return self


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


__all__ = ["Money"]
