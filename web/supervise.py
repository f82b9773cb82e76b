"""What the supervisor reads: the escalation queue and the dashboard's figures (SQL read model).

The decide-by time is the case's own next action (``supervisor_decision``, set by the case when
it escalates: the strategy's ``escalation.decide_within_days`` after), so this page and the
case's reminder agree. Amounts are summed per currency, never across currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, select

from activities.db import Database
from models.common import Stage
from models.tables import Case, CaseEvent, Payment, Promise

QUEUE_LIMIT = 200
DECISION = "supervisor_decision"


@dataclass(frozen=True)
class Escalated:
    loan_id: str
    decide_by: datetime | None
    overdue: bool
    why: str
    balance: Decimal
    currency: str
    days_past_due: int
    strategy_id: str


@dataclass(frozen=True)
class Dashboard:
    stages: list[tuple[str, int]]  # every stage, in the order a case moves
    recovered: list[tuple[str, Decimal, int]]  # currency, amount, payments
    by_strategy: list[tuple[str, str, Decimal]]  # strategy, currency, amount
    promises_kept: int
    promises_broken: int
    open_cases: int


async def escalation_queue(db: Database, now: datetime) -> list[Escalated]:
    """Escalated cases, the nearest decide-by first (those without one last)."""
    async with db.session() as session:
        cases = list(
            await session.exec(select(Case).where(Case.stage == Stage.ESCALATED).limit(QUEUE_LIMIT))
        )
        why: dict[str, str] = {}
        if cases:
            events = await session.exec(
                select(CaseEvent)
                .where(
                    col(CaseEvent.case_id).in_([c.case_id for c in cases]),
                    CaseEvent.stage == Stage.ESCALATED,
                    CaseEvent.kind == "stage",
                )
                .order_by(col(CaseEvent.seq))
            )
            why = {e.case_id: e.summary for e in events}  # the latest entry wins
    rows = [
        Escalated(
            loan_id=case.loan_id,
            decide_by=(at := case.next_action_at if case.next_action_kind == DECISION else None),
            overdue=at is not None and at < now,
            why=why.get(case.case_id, ""),
            balance=case.balance,
            currency=case.currency,
            days_past_due=case.days_past_due,
            strategy_id=case.strategy_id,
        )
        for case in cases
    ]
    return sorted(rows, key=lambda r: (r.decide_by is None, r.decide_by or now, r.loan_id))


async def dashboard(db: Database) -> Dashboard:
    async with db.session() as session:
        counted = dict(
            (stage, count)
            for stage, count in await session.exec(
                select(Case.stage, sa.func.count()).group_by(col(Case.stage))
            )
        )
        paid = await session.exec(
            select(Case.currency, sa.func.sum(Payment.amount), sa.func.count())
            .join(Case, col(Case.case_id) == col(Payment.case_id))
            .group_by(col(Case.currency))
            .order_by(col(Case.currency))
        )
        recovered = [(cur, Decimal(total or 0), n) for cur, total, n in paid]
        per_strategy = await session.exec(
            select(Case.strategy_id, Case.currency, sa.func.sum(Payment.amount))
            .join(Case, col(Case.case_id) == col(Payment.case_id))
            .group_by(col(Case.strategy_id), col(Case.currency))
            .order_by(col(Case.strategy_id), col(Case.currency))
        )
        by_strategy = [(s, cur, Decimal(total or 0)) for s, cur, total in per_strategy]
        statuses = dict(
            (str(status), count)
            for status, count in await session.exec(
                select(Promise.status, sa.func.count()).group_by(col(Promise.status))
            )
        )
    stages = [(s.value, int(counted.get(s, 0))) for s in Stage]
    return Dashboard(
        stages=stages,
        recovered=recovered,
        by_strategy=by_strategy,
        promises_kept=int(statuses.get("kept", 0)),
        promises_broken=int(statuses.get("broken", 0)),
        open_cases=sum(n for s, n in stages if not Stage(s).terminal),
    )
