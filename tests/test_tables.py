"""Every table round-trips exactly on SQLite and PostgreSQL, and its unique keys hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel, func, select, text

from activities.db import Database
from models.case import DefaultReason, NegotiationResult, VisitOutcome
from models.common import Channel, Stage
from models.tables import (
    AgentAssignment,
    AttemptStatus,
    Borrower,
    Case,
    CaseEvent,
    ContactAttempt,
    DueStatus,
    FieldAgent,
    Installment,
    LegalOutbox,
    Loan,
    LoanStatus,
    Negotiation,
    OutboxStatus,
    Payment,
    Promise,
    Visit,
)

RowT = TypeVar("RowT", bound=SQLModel)

SHANGHAI = timezone(timedelta(hours=8))
# Microseconds and a non-UTC offset: both must survive, the offset normalised to UTC.
AT = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=SHANGHAI)
# The largest NUMERIC(18, 2): a float holds only ~16 significant digits and would round it.
BIG = Decimal("9999999999999999.99")


def sample_rows() -> list[SQLModel]:
    """One row per table, parents first, every column set to a non-default value."""
    case_id = "case-L-1001"
    return [
        Borrower(
            id="B-77",
            name="王芳",
            phone="+8613800138000",
            timezone="Asia/Shanghai",
            locale="zh-CN",
            region="hz-west",
            address="杭州市西湖区 1 号",
            consent_sms=True,
            consent_call=True,
            created_at=AT,
            updated_at=AT,
        ),
        Loan(
            loan_id="L-1001",
            borrower_id="B-77",
            currency="CNY",
            amount_overdue=Decimal("1530.50"),
            outstanding_balance=Decimal("9800.00"),
            due_date=date(2026, 11, 20),
            status=LoanStatus.PAID,
            strategy_id="default",
            created_at=AT,
            updated_at=AT,
        ),
        FieldAgent(id="A-1", name="李强", region="hz-west", capacity_per_day=3, active=False),
        AgentAssignment(
            agent_id="A-1", case_id=case_id, visit_day=date(2026, 12, 10), created_at=AT
        ),
        Case(
            case_id=case_id,
            loan_id="L-1001",
            stage=Stage.FOLLOW_UP,
            amount_overdue=BIG,
            balance=Decimal("0.01"),
            currency="CNY",
            next_action_kind="sms",
            next_action_at=AT,
            assigned_agents=["A-1", "A-2"],
            strategy_id="default",
            strategy_version=3,
            days_past_due=42,
            last_event_seq=17,
            created_at=AT,
            updated_at=AT,
        ),
        ContactAttempt(
            idempotency_key=f"{case_id}/reminder-1",
            case_id=case_id,
            channel=Channel.CALL,
            to_number="+8613800138000",
            body="您好，这里是 CollectFlow。回复 TD 退订。",
            status=AttemptStatus.UNDELIVERED,
            provider_sid="CA0123456789abcdef0123456789abcdef",
            error_code="21211",
            reason="invalid number",
            created_at=AT,
            updated_at=AT,
        ),
        Visit(
            case_id=case_id,
            visit_no=2,
            proposed_at=AT,
            scheduled_at=AT + timedelta(hours=2),
            collectors=["A-1", "A-2"],
            outcome=VisitOutcome.NOT_HOME,
            notes="门口留言",
            recorded_by="op-9",
            created_at=AT,
            updated_at=AT,
        ),
        Negotiation(
            case_id=case_id,
            seq=1,
            at=AT,
            reason_for_default=DefaultReason.ILLNESS,
            income=Decimal("6500.00"),
            essential_expenses=Decimal("4200.10"),
            result_kind=NegotiationResult.INSTALLMENT_PLAN,
            details={"count": 6, "frequency_days": 30, "note": "分期"},
            actor_id="op-9",
            actor_role="operator",
        ),
        Promise(
            case_id=case_id,
            seq=1,
            due_date=date(2026, 12, 1),
            amount=Decimal("500.00"),
            status=DueStatus.BROKEN,
            updated_at=AT,
        ),
        Installment(
            case_id=case_id,
            plan_no=1,
            index=0,
            due_date=date(2026, 12, 15),
            amount=Decimal("255.09"),
            paid_amount=Decimal("100.10"),
            status=DueStatus.KEPT,
            updated_at=AT,
        ),
        Payment(
            payment_ref="P-9",
            case_id=case_id,
            amount=Decimal("500.00"),
            paid_at=AT,
            recorded_at=AT + timedelta(seconds=1),
        ),
        CaseEvent(
            case_id=case_id,
            seq=1,
            at=AT,
            stage=Stage.REMINDING,
            kind="payment",
            summary="payment P-9 of 500.00",
            actor_id="collectflow",
            actor_role="system",
            details={"payment_ref": "P-9", "amount": "500.00"},
        ),
        LegalOutbox(
            case_id=case_id,
            created_at=AT,
            payload={"loan": {"loan_id": "L-1001"}, "contacts": [{"channel": "sms"}]},
            status=OutboxStatus.SENT,
        ),
    ]


TABLES = [type(row) for row in sample_rows()]


async def insert(db: Database, *rows: SQLModel) -> None:
    """Insert in the given order: without relationship() the unit of work cannot order FKs."""
    async with db.session() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await session.commit()


def row_of(table: type[RowT], rows: list[SQLModel]) -> RowT:
    return next(row for row in rows if isinstance(row, table))


def assert_exact(got: Any, expected: Any) -> None:
    """Equal, and stored the way the app relies on: UTC datetimes, Decimals to the cent."""
    assert got == expected
    if isinstance(expected, datetime):
        assert got.tzinfo is UTC
    if isinstance(expected, Decimal):
        assert isinstance(got, Decimal) and str(got) == str(expected)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.__tablename__)
async def test_row_round_trips(database: Database, table: type[SQLModel]) -> None:
    """A row written and read back in a new session equals what was written, exactly."""
    rows = sample_rows()
    await insert(database, *rows)
    expected = row_of(table, rows)
    identity = sa.inspect(expected).identity
    async with database.session() as session:
        got = await session.get(table, identity)
    assert got is not None
    for name, value in expected.model_dump().items():
        assert_exact(getattr(got, name), value)


def twin(row: SQLModel, **changes: Any) -> SQLModel:
    """A new row with the same values (so the same unique keys) as ``row``, bar ``changes``."""
    values = row.model_dump(exclude={"id"}) | changes
    return type(row).model_validate(values)


UNIQUE_KEYS: list[tuple[type[SQLModel], str, dict[str, Any]]] = [
    (ContactAttempt, "uq_contact_attempts_idempotency_key", {"provider_sid": None}),
    (ContactAttempt, "uq_contact_attempts_provider_sid", {"idempotency_key": "case-L-1001/x"}),
    (Payment, "uq_payments_payment_ref", {"case_id": "case-other"}),
    (AgentAssignment, "uq_agent_assignments_agent_id_visit_day_case_id", {}),
    (Case, "uq_cases_loan_id", {"case_id": "case-other"}),
    (Visit, "uq_visits_case_id_visit_no", {}),
    (Negotiation, "uq_negotiations_case_id_seq", {}),
    (Promise, "uq_promises_case_id_seq", {}),
    (Installment, "uq_installments_case_id_plan_no_index", {}),
    (CaseEvent, "uq_case_events_case_id_seq", {}),
    (LegalOutbox, "uq_legal_outbox_case_id", {}),
]


def violation_text(table: type[SQLModel], constraint: str, dialect: str) -> str:
    """How each backend names the constraint in its error message."""
    if dialect == "postgresql":
        return constraint
    table_obj = SQLModel.metadata.tables[str(table.__tablename__)]
    unique = next(c for c in table_obj.constraints if c.name == constraint)
    assert isinstance(unique, sa.UniqueConstraint)
    return ", ".join(f"{table_obj.name}.{column.name}" for column in unique.columns)


@pytest.mark.parametrize(("table", "constraint", "changes"), UNIQUE_KEYS, ids=lambda v: v)
async def test_unique_key_refuses_a_second_row(
    database: Database, table: type[SQLModel], constraint: str, changes: dict[str, Any]
) -> None:
    """A second row with the same natural key is refused by that key's constraint."""
    rows = sample_rows()
    await insert(database, *rows)
    with pytest.raises(IntegrityError) as refused:
        await insert(database, twin(row_of(table, rows), **changes))
    dialect = database.engine.dialect.name
    assert violation_text(table, constraint, dialect) in str(refused.value)


async def test_foreign_keys_hold_on_both_backends(database: Database) -> None:
    """A loan for an unknown borrower is refused on SQLite too (foreign_keys pragma)."""
    loan = row_of(Loan, sample_rows())
    with pytest.raises(IntegrityError):
        await insert(database, loan)


@pytest.mark.parametrize(
    "amount",
    [0.1, Decimal("1.005"), Decimal("1E16"), Decimal("NaN"), True],
    ids=["float", "sub-cent", "too-large", "nan", "bool"],
)
async def test_inexact_money_is_refused(database: Database, amount: Any) -> None:
    """Money that cannot be stored exactly raises instead of being rounded."""
    payment = Payment(payment_ref="P-1", case_id="case-L-1", amount=amount, paid_at=AT)
    with pytest.raises(StatementError):
        await insert(database, payment)


async def test_naive_datetime_is_refused(database: Database) -> None:
    """A naive timestamp never reaches the database: its time zone would be a guess."""
    payment = Payment(payment_ref="P-1", case_id="case-L-1", amount=Decimal(1), paid_at=AT)
    payment.paid_at = datetime(2026, 11, 30, 10, 0)
    with pytest.raises(StatementError, match="timezone"):
        await insert(database, payment)


async def test_unknown_enum_value_is_refused(database: Database) -> None:
    """A stage outside the vocabulary is refused on write, though the column is a VARCHAR."""
    event = row_of(CaseEvent, sample_rows())
    event.stage = "nonsense"  # type: ignore[assignment]  # what an untyped caller could do
    with pytest.raises(StatementError):
        await insert(database, event)


async def test_money_sums_exactly_in_sql(database: Database) -> None:
    """SUM and comparisons on money are exact on both backends (integer cents on SQLite)."""
    payments = [
        Payment(payment_ref=f"P-{n}", case_id="case-L-1", amount=Decimal("0.10"), paid_at=AT)
        for n in range(10)
    ]
    await insert(database, *payments)
    async with database.session() as session:
        total = (await session.exec(select(func.sum(Payment.amount)))).one()
        above = select(func.count()).where(Payment.amount > Decimal("0.09"))
        count = (await session.exec(above)).one()
    assert_exact(total, Decimal("1.00"))
    assert count == 10  # comparisons bind through the same type: cents against cents


async def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    """API and worker can share the SQLite file: WAL journal and a busy timeout are on."""
    db = Database(sqlite_url)
    try:
        async with db.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await db.dispose()
    assert (mode, timeout) == ("wal", 30_000)


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "13800138000"), ("phone", "+86 138 0013 8000"), ("timezone", "Mars/Olympus")],
)
def test_borrower_refuses_bad_contact_data(field: str, value: str) -> None:
    """Phones must be E.164 and time zones IANA names when a borrower is validated."""
    data = row_of(Borrower, sample_rows()).model_dump() | {field: value}
    with pytest.raises(ValidationError, match=field):
        Borrower.model_validate(data)


def test_loan_refuses_bad_currency() -> None:
    """A currency must look like an ISO 4217 code."""
    data = row_of(Loan, sample_rows()).model_dump() | {"currency": "cny"}
    with pytest.raises(ValidationError, match="ISO 4217"):
        Loan.model_validate(data)
