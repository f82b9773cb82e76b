"""SQL tables: master data (borrowers, loans, agents), the case read model and its logs.

Rows keyed by ``case_id`` carry no foreign key to ``cases``: ``cases`` is a projection that
activities keep current, and an activity (a contact attempt, a webhook's status) may write before
the projection has caught up. Uniqueness on natural keys is what keeps retried activities from
inserting twice.

The tables declare no ``relationship()``: activities load what they need by key (lazy loads do
not work under asyncio anyway). So the session cannot order inserts by foreign key: flush a
parent (borrower, loan, field agent) before its children.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator
from sqlmodel import Field, SQLModel

import models.export_heads  # registers export_heads on SQLModel.metadata
from models.case import DefaultReason, NegotiationResult, VisitOutcome
from models.columns import (
    CENT,
    MONEY_LIMIT,
    MoneyType,
    created_field,
    enum_type,
    json_dict_field,
    json_list_field,
    money_field,
    updated_field,
    utc_now,
    validate_currency,
)
from models.common import Channel, Stage, validate_e164, validate_timezone

# Named constraints: SQLite can only alter a table by copying it (alembic batch mode), and the
# copy can only drop or rename a constraint it can name. Set before any table is declared.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column helpers live in ``models.columns``; callers import some of them from here too.
__all__ = [
    "CENT",
    "MONEY_LIMIT",
    "MoneyType",
    "created_field",
    "enum_type",
    "json_dict_field",
    "json_list_field",
    "money_field",
    "updated_field",
    "utc_now",
    "validate_currency",
]


class LoanStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CLOSED = "closed"


class AttemptStatus(StrEnum):
    RECORDED = "recorded"  # written before the provider call
    SENT = "sent"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    UNKNOWN = "unknown"  # crashed between the provider call and the record: never resent
    REJECTED = "rejected"


class DueStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"
    REPLACED = "replaced"  # superseded by a newer agreement before it fell due


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# ---------------------------------------------------------------- master data


class BorrowerBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    phone: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    locale: str = Field(default="zh-CN", max_length=16)
    region: str = Field(index=True, max_length=64)
    address: str = Field(default="", max_length=500)
    # No consent unless the loan system says so (TCPA: automated contact needs consent).
    consent_sms: bool = False
    consent_call: bool = False
    # Sent by some loan systems; the borrower's page accepts it as proof of identity.
    birth_year: int | None = Field(default=None, ge=1900, le=2100)

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        return validate_e164(value)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        return validate_timezone(value)


class Borrower(BorrowerBase, table=True):
    __tablename__ = "borrowers"

    # The vault (DESIGN §10): name, phone, address and year of birth sealed under the
    # borrower's data key (``borrower_keys``); the clear columns above then stay empty.
    sealed: str | None = None
    phone_hmac: str | None = Field(default=None, max_length=64, index=True)

    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


class LoanBase(SQLModel):
    loan_id: str = Field(primary_key=True, max_length=64)
    borrower_id: str = Field(foreign_key="borrowers.id", index=True, max_length=64)
    currency: str = Field(max_length=3)
    amount_overdue: Decimal = money_field()
    outstanding_balance: Decimal = money_field()
    due_date: date
    status: LoanStatus = Field(default=LoanStatus.OPEN, sa_type=enum_type(LoanStatus))
    strategy_id: str = Field(max_length=64)

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        return validate_currency(value)


class Loan(LoanBase, table=True):
    __tablename__ = "loans"

    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


class FieldAgentBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    region: str = Field(index=True, max_length=64)
    capacity_per_day: int = Field(default=4, ge=0)
    active: bool = True


class FieldAgent(FieldAgentBase, table=True):
    __tablename__ = "field_agents"


class AgentAssignment(SQLModel, table=True):
    """One agent on one case on one day; counting an agent's rows for a day gives its load."""

    __tablename__ = "agent_assignments"
    # visit_day before case_id: the same index then serves "how busy is agent X on day D".
    __table_args__ = (sa.UniqueConstraint("agent_id", "visit_day", "case_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="field_agents.id", max_length=64)
    case_id: str = Field(index=True, max_length=80)
    visit_day: date
    created_at: AwareDatetime = created_field()


# ---------------------------------------------------------------- the case read model


class CaseBase(SQLModel):
    case_id: str = Field(primary_key=True, max_length=80)
    loan_id: str = Field(foreign_key="loans.loan_id", unique=True, max_length=64)
    stage: Stage = Field(sa_type=enum_type(Stage), index=True)
    amount_overdue: Decimal = money_field()
    balance: Decimal = money_field()
    currency: str = Field(max_length=3)
    next_action_kind: str | None = Field(default=None, max_length=32)
    next_action_at: AwareDatetime | None = None
    assigned_agents: list[str] = json_list_field()
    strategy_id: str = Field(max_length=64)
    strategy_version: int
    days_past_due: int = 0
    # The projection applies events in order and skips those it has already seen.
    last_event_seq: int = 0

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        return validate_currency(value)


class Case(CaseBase, table=True):
    __tablename__ = "cases"

    # The workflow task that wrote the row: its clock and the history's length then, so that a
    # later task's sync replaces what a task Temporal undid had written (activities/sync_order.py).
    synced_at: AwareDatetime | None = None
    synced_history: int | None = None

    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


# ---------------------------------------------------------------- what happened on a case


class ContactAttempt(SQLModel, table=True):
    """Recorded before the provider call, completed after: the exactly-once ledger."""

    __tablename__ = "contact_attempts"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)  # {workflow_id}/{step}
    case_id: str = Field(index=True, max_length=80)
    channel: Channel = Field(sa_type=enum_type(Channel))
    # Empty since the vault: the number is sealed under the borrower's key in ``to_sealed``
    # (``borrower_id`` opens it); rows written before keep it here in clear.
    to_number: str = Field(max_length=16)
    to_sealed: str | None = None
    borrower_id: str | None = Field(default=None, max_length=64)
    body: str
    # Since the vault ``body`` is sealed under the borrower's key; reconciliation compares this.
    body_sha256: str | None = Field(default=None, max_length=64)
    status: AttemptStatus = Field(default=AttemptStatus.RECORDED, sa_type=enum_type(AttemptStatus))
    # Unique but nullable: status callbacks find the attempt by it once the provider answered.
    provider_sid: str | None = Field(default=None, unique=True, max_length=64)
    error_code: str | None = Field(default=None, max_length=16)
    reason: str | None = None
    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


class Visit(SQLModel, table=True):
    __tablename__ = "visits"
    __table_args__ = (sa.UniqueConstraint("case_id", "visit_no"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=80)
    visit_no: int
    proposed_at: AwareDatetime
    scheduled_at: AwareDatetime | None = None
    collectors: list[str] = json_list_field()
    outcome: VisitOutcome | None = Field(default=None, sa_type=enum_type(VisitOutcome))
    notes: str = ""
    recorded_by: str | None = Field(default=None, max_length=64)
    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


class Negotiation(SQLModel, table=True):
    __tablename__ = "negotiations"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=80)
    seq: int
    at: AwareDatetime
    reason_for_default: DefaultReason = Field(sa_type=enum_type(DefaultReason))
    income: Decimal | None = money_field(default=None)
    essential_expenses: Decimal | None = money_field(default=None)
    result_kind: NegotiationResult = Field(sa_type=enum_type(NegotiationResult))
    details: dict[str, Any] = json_dict_field()
    actor_id: str = Field(max_length=64)
    actor_role: str = Field(max_length=16)


class Promise(SQLModel, table=True):
    __tablename__ = "promises"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=80)
    seq: int
    due_date: date
    amount: Decimal = money_field()
    status: DueStatus = Field(default=DueStatus.PENDING, sa_type=enum_type(DueStatus))
    updated_at: AwareDatetime = updated_field()


class Installment(SQLModel, table=True):
    __tablename__ = "installments"
    __table_args__ = (sa.UniqueConstraint("case_id", "plan_no", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=80)
    plan_no: int
    index: int
    due_date: date
    amount: Decimal = money_field()
    paid_amount: Decimal = money_field(default=Decimal("0.00"))
    status: DueStatus = Field(default=DueStatus.PENDING, sa_type=enum_type(DueStatus))
    updated_at: AwareDatetime = updated_field()


class Payment(SQLModel, table=True):
    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    payment_ref: str = Field(unique=True, max_length=128)
    case_id: str = Field(index=True, max_length=80)
    amount: Decimal = money_field()
    paid_at: AwareDatetime
    recorded_at: AwareDatetime = created_field()


class CaseEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated."""

    __tablename__ = "case_events"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=80)
    seq: int
    at: AwareDatetime
    stage: Stage = Field(sa_type=enum_type(Stage))
    kind: str = Field(max_length=32)
    summary: str = ""
    actor_id: str | None = Field(default=None, max_length=64)
    actor_role: str | None = Field(default=None, max_length=16)
    details: dict[str, Any] = json_dict_field()


class LegalOutbox(SQLModel, table=True):
    """The case file handed to the legal system; one per case."""

    __tablename__ = "legal_outbox"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(unique=True, max_length=80)
    created_at: AwareDatetime = created_field()
    payload: dict[str, Any] = json_dict_field()
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=enum_type(OutboxStatus))


# ---------------------------------------------------------------- the borrower's own page


class BorrowerLink(SQLModel, table=True):
    """A link to the borrower's page (``/b/{token}``), bound to one case, sent in one SMS.

    Only the token's SHA-256 is stored. The token itself is an HMAC of ``nonce`` under the
    session secret, so a retried send re-derives the same token (its SMS text is unchanged, as
    the exactly-once ledger needs) while neither the database nor the secret alone yields one.
    """

    __tablename__ = "borrower_links"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    nonce: str = Field(max_length=64)
    case_id: str = Field(index=True, max_length=80)
    loan_id: str = Field(max_length=64)
    contact_key: str = Field(unique=True, max_length=200)  # the SMS that carried it
    created_at: AwareDatetime = created_field()
    revoked_at: AwareDatetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=32)
    # Confirmation: a one-time code (hashed) or the year of birth, with tries and lockouts.
    code_hash: str | None = Field(default=None, max_length=64)
    code_sent_at: AwareDatetime | None = None
    codes_sent: int = 0
    failed_tries: int = 0
    locks: int = 0
    locked_until: AwareDatetime | None = None
    confirmed_at: AwareDatetime | None = None


import models.vault_tables  # noqa: E402, F401  # registers the vault's tables on the metadata
