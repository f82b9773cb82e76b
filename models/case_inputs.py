"""What the case's updates and signals take (re-exported by ``models.case``). New fields always
get defaults, so histories recorded by older code still decode on replay."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from models.case_terms import (
    AwareDatetime,
    CloseReason,
    DefaultReason,
    EscalationDecision,
    VisitOutcome,
)
from models.common import (
    SYSTEM_ACTOR,
    Actor,
    Channel,
    NonNegativeMoney,
    PlausibleDate,
    PositiveMoney,
    validate_e164,
    validate_timezone,
)

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
