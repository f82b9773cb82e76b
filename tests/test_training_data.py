"""Closed cases of the read model as training rows: features as of the scoring point only,
the 90-day label, and ``model train --db`` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlmodel import SQLModel
from typer.testing import CliRunner

from activities.db import Database
from activities.training_data import closed_cases
from cli.main import app
from models.case import DefaultReason, NegotiationResult
from models.common import Channel, Stage
from models.scorecard import load_scorecard_file
from models.tables import (
    AttemptStatus,
    Borrower,
    Case,
    ContactAttempt,
    DueStatus,
    Installment,
    Loan,
    Negotiation,
    Payment,
    Promise,
)

DUE = date(2026, 10, 1)  # scoring at D+14: 2026-10-15; the label's window ends 2027-01-13


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)


def a_case(n: int, stage: Stage, amount: str = "1000.00") -> list[SQLModel]:
    return [
        Borrower(id=f"B-{n}", name="王芳", phone="+8613800138000", timezone="Asia/Shanghai",
                 region="hz-west"),
        Loan(loan_id=f"L-{n}", borrower_id=f"B-{n}", currency="CNY",
             amount_overdue=Decimal(amount), outstanding_balance=Decimal(amount), due_date=DUE,
             strategy_id="default"),
        Case(case_id=f"case-{n}", loan_id=f"L-{n}", stage=stage, amount_overdue=Decimal(amount),
             balance=Decimal(0), currency="CNY", strategy_id="default", strategy_version=1),
    ]  # fmt: skip


def contact(n: int, k: int, day: date, status: AttemptStatus) -> ContactAttempt:
    return ContactAttempt(
        idempotency_key=f"case-{n}/c{k}", case_id=f"case-{n}", channel=Channel.CALL,
        to_number="+8613800138000", body="x", status=status, created_at=at(day),
    )  # fmt: skip


def pay(n: int, k: int, day: date, amount: str) -> Payment:
    return Payment(payment_ref=f"P-{n}-{k}", case_id=f"case-{n}", amount=Decimal(amount),
                   paid_at=at(day))  # fmt: skip


def talk(
    n: int, seq: int, day: date, reason: DefaultReason, income: str, spend: str
) -> Negotiation:
    return Negotiation(
        case_id=f"case-{n}", seq=seq, at=at(day), reason_for_default=reason,
        income=Decimal(income), essential_expenses=Decimal(spend),
        result_kind=NegotiationResult.PROMISE, actor_id="op-1", actor_role="operator",
    )  # fmt: skip


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def rows() -> list[SQLModel]:
    return [
        # 1: everything before D+14 counts, nothing after it does; paid in full on 11-20
        *a_case(1, Stage.RESOLVED),
        contact(1, 1, d(10, 2), AttemptStatus.ANSWERED),
        contact(1, 2, d(10, 4), AttemptStatus.UNANSWERED),
        contact(1, 3, d(10, 6), AttemptStatus.RECORDED),  # never placed: no attempt
        contact(1, 4, d(10, 20), AttemptStatus.ANSWERED),  # after the scoring point
        Promise(case_id="case-1", seq=1, due_date=d(10, 5), amount=Decimal(200),
                status=DueStatus.KEPT),
        Installment(case_id="case-1", plan_no=1, index=1, due_date=d(10, 10),
                    amount=Decimal(100), status=DueStatus.BROKEN),
        Promise(case_id="case-1", seq=2, due_date=d(10, 20), amount=Decimal(100),
                status=DueStatus.BROKEN),  # falls due after the scoring point
        talk(1, 1, d(10, 3), DefaultReason.UNEMPLOYMENT, "3000", "2500"),
        talk(1, 2, d(10, 25), DefaultReason.FORGOT, "9000", "1000"),  # after: not read
        pay(1, 1, d(10, 5), "200.00"),
        pay(1, 2, d(11, 20), "800.00"),
        # 2: paid before the scoring point: never scored
        *a_case(2, Stage.RESOLVED),
        pay(2, 1, d(10, 3), "1000.00"),
        # 3: written off, nothing known
        *a_case(3, Stage.WRITTEN_OFF),
        # 4: still open: not a closed case
        *a_case(4, Stage.FOLLOW_UP),
        # 5: ill; settled with a payment inside the window
        *a_case(5, Stage.SETTLED),
        talk(5, 1, d(10, 8), DefaultReason.ILLNESS, "2000", "1900"),
        pay(5, 1, d(12, 1), "600.00"),
        # 6: paid in full, but after the 90 days
        *a_case(6, Stage.RESOLVED),
        pay(6, 1, date(2027, 3, 1), "1000.00"),
    ]  # fmt: skip


async def fill(database: Database, items: list[SQLModel]) -> None:
    async with database.session() as session:
        for row in items:  # parents first, one flush each (no ORM relationships declared)
            session.add(row)
            await session.flush()
        await session.commit()


async def test_features_are_as_of_the_scoring_point_and_the_label_is_90_days(
    database: Database, db_url: str
) -> None:
    await fill(database, rows())
    found = {r.case_id: r for r in await closed_cases(db_url, scoring_dpd=14)}
    assert sorted(found) == ["case-1", "case-3", "case-5", "case-6"]
    one = found["case-1"].features
    assert (one.days_past_due, one.balance) == (14, Decimal("800.00"))
    assert (one.contact_attempts, one.answer_rate) == (2, Decimal("0.5000"))
    assert (one.promises_kept, one.promises_broken) == (1, 1)
    assert one.default_reason == "unemployment" and one.affordability == Decimal("0.6250")
    assert found["case-1"].paid and found["case-5"].paid
    assert not found["case-3"].paid and not found["case-6"].paid
    assert found["case-5"].features.default_reason == "undisclosed"  # illness never scores
    assert found["case-3"].features.answer_rate is None


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return result.exit_code, f"{result.output}\n{result.exception!r}"
    return result.exit_code, result.output


async def test_train_from_the_database_needs_enough_closed_cases_then_writes_a_scorecard(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    await fill(database, rows())
    out = tmp_path / "card.json"
    code, text = await asyncio.to_thread(run, "model", "train", "--db", db_url, "--out", str(out))
    assert code == 2 and "4 closed cases open at D+14" in text and "at least 50" in text
    assert not out.exists()
    items: list[SQLModel] = []
    for n in range(100, 190):
        paid = n % 3 != 0
        items += a_case(n, Stage.RESOLVED if paid else Stage.WRITTEN_OFF)
        answered = paid != (n % 11 == 0)  # mostly: those who answer, pay
        status = AttemptStatus.ANSWERED if answered else AttemptStatus.UNANSWERED
        items.append(contact(n, 1, date(2026, 10, 3), status))
        if paid:
            items.append(pay(n, 1, date(2026, 11, 1), "1000.00"))
    await fill(database, items)
    code, text = await asyncio.to_thread(
        run, "model", "train", "--db", db_url, "--out", str(out), "--json"
    )
    assert code == 0, text
    figures = json.loads(text)
    # answering is almost the whole story in these rows; days past due is the same for all
    assert figures["auc"] > 0.8 and figures["baseline_auc"] == 0.5
    card = load_scorecard_file(out)
    assert card.trained["source"] == "closed cases of the database"
    assert card.trained["cases"] == "94"
