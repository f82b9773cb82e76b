"""``CaseState``: everything the core knows about a case; serialisable and carried whole
across continue-as-new. Only ``Case`` (case.py) writes it.

Lists are bounded per run (``*_KEPT``): older entries leave as read-model events, so no input
from any caller can push a case towards Temporal's history or payload limits.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.case import (
    CloseReason,
    ContactOutcome,
    DefaultReason,
    NegotiationResult,
    VisitOutcome,
)
from models.common import SYSTEM_ACTOR, Actor, Borrower, Channel, Loan, Stage

ZERO = Decimal("0")
NOTES_KEPT = 50
CONTACTS_KEPT = 200
PAYMENTS_KEPT = 50
PAYMENT_REFS_KEPT = 1_000  # redelivery detection reaches further back than the records
COMMITMENTS_KEPT = 60
SIDS_KEPT = 200
STAGES_KEPT = 40
NEGOTIATIONS_KEPT = 20


class Contact(BaseModel):
    key: str
    channel: Channel
    step: str
    at: datetime
    outcome: ContactOutcome
    connected: bool = False
    manual: bool = False  # an operator's own call, logged: counts toward the caps
    transactional: bool = False  # a receipt: not collection, so the caps do not bind it
    provider_sid: str | None = None
    reason: str = ""
    until: datetime | None = None  # deferred: when the gate will allow it
    # Since the vault: what was sent, as the template and the SHA-256 of the text the activity
    # rendered (the text itself is sealed in the contact ledger, never in the history).
    template: str | None = None
    text_sha256: str | None = None


class Payment(BaseModel):
    payment_ref: str
    amount: Decimal
    paid_at: datetime
    recorded_at: datetime
    actor: Actor
    late: bool = False  # arrived after the case ended (recovery or over-payment)


class Commitment(BaseModel):
    """A promise, an installment or a settlement: numbered once for the life of the case."""

    no: int
    kind: Literal["promise", "ivr", "installment", "settlement"]
    amount: Decimal
    due_at: datetime
    due_date: date
    paid_before: Decimal  # paid_total when the commitment (or its plan) was agreed
    target: Decimal  # paid since then that keeps it (cumulative for installments)
    plan_no: int | None = None
    index: int = 1
    count: int = 1
    every: int = 0  # days between installments
    agreed_at: datetime | None = None
    status: Literal["pending", "kept", "broken", "replaced"] = "pending"
    reminded: bool = False
    reminded_at: datetime | None = None


class Visit(BaseModel):
    visit_no: int
    opened_at: datetime
    offered: list[datetime] = Field(default_factory=list)
    proposed_by_borrower: datetime | None = None
    accepted: datetime | None = None
    scheduled_at: datetime | None = None
    scheduled_by: Actor | None = None
    collectors: list[str] = Field(default_factory=list)
    outcome: VisitOutcome | None = None
    notes: str = ""
    recorded_by: Actor | None = None
    proposal_sent: bool = False
    reminder_sent: bool = False
    alert_at: datetime | None = None
    staffing_asked: bool = False  # collectors requested; the proposal waits for the answer
    staffing_known: bool = False


class ChangeRequest(BaseModel):
    no: int
    kind: Literal["close", "amount_correction"]
    by: Actor
    at: datetime
    close_reason: CloseReason | None = None
    corrected_amount: Decimal | None = None
    reason: str = ""
    status: Literal["pending", "approved", "declined"] = "pending"


class StageMove(BaseModel):
    at: datetime
    stage: Stage
    reason: str
    actor: Actor


class NegotiationNote(BaseModel):
    at: datetime
    actor: Actor
    reason: DefaultReason
    result: NegotiationResult
    monthly_income: Decimal | None = None
    essential_expenses: Decimal | None = None
    notes: str = ""


class Note(BaseModel):
    at: datetime
    actor: Actor
    text: str


class CaseState(BaseModel):
    case_id: str
    loan_id: str
    generation: int = 1
    previous_run_case: str | None = None  # the earlier generation's case, for the history link
    stage: Stage = Stage.REMINDING
    stage_entered_at: datetime
    stage_deadline: datetime | None = None
    currency: str
    amount_overdue: Decimal
    paid_total: Decimal = ZERO
    balance: Decimal
    refund_due: Decimal = ZERO
    late_payments: Decimal = ZERO
    settlement_amount: Decimal | None = None
    opened_at: datetime
    due_date: date
    as_of: datetime | None = None
    # the borrower's contact details: a repeat overdue event may change them
    phone: str
    timezone: str
    region: str
    locale: str = "zh-CN"
    consent: list[Channel] = Field(default_factory=lambda: [Channel.SMS, Channel.CALL])
    opted_out: list[Channel] = Field(default_factory=list)
    cease_contact: bool = False
    dispute_open: bool = False
    dispute_closed_at: datetime | None = None
    hardship_until: datetime | None = None
    paused_since: datetime | None = None
    graces_used: int = 0
    # what the last negotiation learnt of the borrower's means and why they fell behind (§9)
    monthly_income: Decimal | None = None
    essential_expenses: Decimal | None = None
    default_reason: str | None = None
    # the last assessment (scorecard strategies only): what the treatment was chosen from
    score: int | None = None
    segment: str | None = None
    treatment: str | None = None
    hardship: bool = False
    # hardship_first offers made (a grace or an affordable plan): the last one, not repeated
    offers_made: int = 0
    last_offer: str | None = None
    graces_offered: int = 0
    reminder_index: int = 0
    contact_retry_at: datetime | None = None  # the gate deferred the contact now due
    contacts: list[Contact] = Field(default_factory=list)
    # the borrower's contacts on their other loans (the shell reads them): caps are per borrower
    borrower_contacts: list[Contact] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    payment_refs: list[str] = Field(default_factory=list)
    payments_count: int = 0
    commitments: list[Commitment] = Field(default_factory=list)
    commitment_seq: int = 0
    plan_seq: int = 0
    broken_count: int = 0
    visits: list[Visit] = Field(default_factory=list)
    requests: list[ChangeRequest] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    assigned_agents: list[str] = Field(default_factory=list)
    terminal_reason: str | None = None
    legal_approved_by: Actor | None = None
    escalation_alerted: Literal["none", "entry", "deadline"] = "none"
    alerts_sent: int = 0
    handled_sids: list[str] = Field(default_factory=list)
    run_number: int = 1
    stage_history: list[StageMove] = Field(default_factory=list)
    negotiations: list[NegotiationNote] = Field(default_factory=list)
    negotiations_count: int = 0
    callback_requested_at: datetime | None = None
    legal_reference: str | None = None
    event_seq: int = 0  # numbers the read model's events across runs
    hours_start: time | None = None  # the borrower's preferred contact hours, if any
    hours_end: time | None = None
    receipt_due: bool = False  # resolved at night: the thank-you waits for the window


def open_state(
    case_id: str,
    loan: Loan,
    borrower: Borrower,
    now: datetime,
    *,
    generation: int = 1,
    previous_case: str | None = None,
    do_not_contact: frozenset[Channel] = frozenset(),
) -> CaseState:
    """A new case, or a new generation of a reopened loan (contact keys carry the generation)."""
    given = ((Channel.SMS, borrower.consent.sms), (Channel.CALL, borrower.consent.call))
    consent = [channel for channel, ok in given if ok]
    return CaseState(
        case_id=case_id,
        loan_id=loan.loan_id,
        generation=generation,
        previous_run_case=previous_case,
        stage_entered_at=now,
        currency=loan.currency,
        amount_overdue=loan.amount_overdue,
        balance=loan.amount_overdue,
        opened_at=now,
        due_date=loan.due_date,
        # Since the vault the input has no phone: the case compares the fingerprint instead.
        phone=borrower.phone or borrower.phone_ref,
        timezone=borrower.timezone,
        region=borrower.region,
        locale=borrower.locale,
        consent=consent,
        opted_out=sorted(do_not_contact),
        stage_history=[
            StageMove(at=now, stage=Stage.REMINDING, reason="case opened", actor=SYSTEM_ACTOR)
        ],
    )
