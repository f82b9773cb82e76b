"""Closed cases from the read model as training rows for a scorecard (``model train --db``).

Each closed case is seen as it stood at its scoring point, ``scoring_dpd`` days after the due
date: only rows dated before that day count (contacts, promises and installments that fell
due, the last negotiation, payments), so nothing from after it leaks in. The label: paid in
full, or settled, by payments dated within ``horizon`` days after the scoring point. Cases
already paid before the scoring point were never scored and are left out. Days are UTC
calendar days (the read model keeps instants, not the borrower's calendar).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from activities.db import Database
from models.common import Channel, Stage
from models.scorecard import CaseFeatures
from models.tables import (
    AttemptStatus,
    Case,
    ContactAttempt,
    DueStatus,
    Installment,
    Loan,
    Negotiation,
    Payment,
    Promise,
)
from workflows.core.affordability import disposable_income
from workflows.core.scoring import RATIO, reason_feature

TERMINAL = [s for s in Stage if s.terminal]
NOT_ATTEMPTS = {AttemptStatus.RECORDED, AttemptStatus.REJECTED}


@dataclass(frozen=True)
class ClosedCase:
    case_id: str
    features: CaseFeatures
    paid: bool


def _before(at: datetime, day: date) -> bool:
    return at.date() < day


async def _rows(db: Database, model: Any, ids: Sequence[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    async with db.session() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found = await session.exec(select(model).where(col(model.case_id).in_(chunk)))
            for row in found:
                out[row.case_id].append(row)
    return out


def _one(
    case: Case,
    due: date,
    scoring_dpd: int,
    horizon: int,
    tables: dict[str, dict[str, list[Any]]],
) -> ClosedCase | None:
    cid = case.case_id
    scoring_day = due + timedelta(days=scoring_dpd)
    payments: Iterable[Payment] = tables["payments"].get(cid, [])
    paid_before = sum((p.amount for p in payments if _before(p.paid_at, scoring_day)), Decimal(0))
    balance = case.amount_overdue - paid_before
    if balance <= 0:
        return None  # paid before the scoring point: never scored
    attempts = [
        a
        for a in tables["contacts"].get(cid, [])
        if _before(a.created_at, scoring_day) and a.status not in NOT_ATTEMPTS
    ]
    calls = [a for a in attempts if a.channel is Channel.CALL]  # as the core: answered calls
    answered = sum(1 for a in calls if a.status is AttemptStatus.ANSWERED)
    dues = [
        d
        for d in [*tables["promises"].get(cid, []), *tables["installments"].get(cid, [])]
        if d.due_date < scoring_day
    ]
    talks = sorted(
        (n for n in tables["negotiations"].get(cid, []) if _before(n.at, scoring_day)),
        key=lambda n: n.seq,
    )
    last = talks[-1] if talks else None
    disposable = disposable_income(last.income, last.essential_expenses) if last else None
    end = scoring_day + timedelta(days=horizon)
    paid_by_end = sum((p.amount for p in payments if _before(p.paid_at, end)), Decimal(0))
    settled = case.stage is Stage.SETTLED and any(
        not _before(p.paid_at, scoring_day) and _before(p.paid_at, end) for p in payments
    )
    features = CaseFeatures(
        days_past_due=scoring_dpd,
        balance=balance,
        contact_attempts=len(attempts),
        answer_rate=(Decimal(answered) / len(calls)).quantize(RATIO) if calls else None,
        promises_kept=sum(1 for d in dues if d.status is DueStatus.KEPT),
        promises_broken=sum(1 for d in dues if d.status is DueStatus.BROKEN),
        default_reason=reason_feature(last.reason_for_default.value if last else None),
        affordability=(disposable / balance).quantize(RATIO) if disposable is not None else None,
    )
    return ClosedCase(cid, features, paid_by_end >= case.amount_overdue or settled)


async def closed_cases(database_url: str, scoring_dpd: int, horizon: int = 90) -> list[ClosedCase]:
    """Every closed case of the read model, as of its scoring point, with its label."""
    db = Database(database_url)
    try:
        async with db.session() as session:
            found = await session.exec(
                select(Case, Loan)
                .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
                .where(col(Case.stage).in_(TERMINAL))
                .order_by(col(Case.case_id))
            )
            cases = [(case, loan.due_date) for case, loan in found]
        ids = [case.case_id for case, _ in cases]
        tables = {
            "payments": await _rows(db, Payment, ids),
            "contacts": await _rows(db, ContactAttempt, ids),
            "promises": await _rows(db, Promise, ids),
            "installments": await _rows(db, Installment, ids),
            "negotiations": await _rows(db, Negotiation, ids),
        }
    finally:
        await db.dispose()
    rows = (_one(case, due, scoring_dpd, horizon, tables) for case, due in cases)
    return [r for r in rows if r is not None]
