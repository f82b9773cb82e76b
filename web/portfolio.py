"""The dashboard's portfolio figures, read from the SQL read model. Each figure's definition is
here and on the page, so a reader can check it by hand:

- **Recovery** per currency, strategy and DPD bucket (the case's days past due now: 0-30,
  31-60, 61-90, 91+): the amount paid, and the rate paid ÷ (paid + balance still owed).
  Amounts are never added across currencies.
- **Cure rate**: cases that left collection by paying (stage resolved or settled) ÷ all cases.
- **Roll rate**: open cases whose DPD bucket now is later than at placement (days past due on
  the day the case opened) ÷ open cases.
- **Right-party contact rate**: calls answered by the borrower ÷ calls with an answer either
  way (the contact events' ``answered`` and ``unanswered`` outcomes, the operators' logged
  calls included: a call that reached someone else is not answered).
- **Contacts per case**: contacts made (messages and calls sent, calls operators logged) ÷ cases.
- **Deferred and blocked contacts by reason**: the compliance gate's answers, counted by reason.
- **Agent load**: each active field agent's visits today against their daily capacity, and in
  the next seven days.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, select

from activities.db import Database
from models.common import Stage
from models.tables import AgentAssignment, Case, CaseEvent, FieldAgent, Loan, Payment

BUCKETS = ((0, 30, "0-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, None, "91+"))
CURED = frozenset({Stage.RESOLVED, Stage.SETTLED})
WEEK = 7


def bucket(days_past_due: int) -> int:
    return next(i for i, (_, top, _) in enumerate(BUCKETS) if top is None or days_past_due <= top)


@dataclass(frozen=True)
class Recovery:
    currency: str
    strategy: str
    bucket: str
    cases: int
    paid: Decimal
    owed: Decimal

    @property
    def rate(self) -> int | None:
        """Whole per cent, or None when nothing was owed."""
        total = self.paid + self.owed
        return None if total <= 0 else round(100 * self.paid / total)


@dataclass(frozen=True)
class Load:
    agent_id: str
    name: str
    region: str
    today: int
    capacity: int
    week: int


@dataclass(frozen=True)
class Portfolio:
    recovery: list[Recovery]
    cases: int
    cured: int
    open_cases: int
    rolled: int
    answered: int
    unanswered: int
    contacts_made: int
    held_back: list[tuple[str, str, int]]  # outcome (deferred/blocked), reason, count
    load: list[Load]


def percent(part: int, whole: int) -> int | None:
    return None if whole <= 0 else round(100 * part / whole)


async def _recovery(db: Database) -> tuple[list[Recovery], int, int, int, int]:
    paid_by_case = (
        select(Payment.case_id, sa.func.sum(Payment.amount).label("paid"))
        .group_by(col(Payment.case_id))
        .subquery()
    )
    statement = (
        select(Case, col(Loan.due_date), paid_by_case.c.paid)
        .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
        .outerjoin(paid_by_case, paid_by_case.c.case_id == col(Case.case_id))
    )
    groups: dict[tuple[str, str, int], tuple[int, Decimal, Decimal]] = {}
    cured = open_cases = rolled = total = 0
    async with db.session() as session:
        for case, due_date, paid in await session.exec(statement):
            key = (case.currency, case.strategy_id, bucket(case.days_past_due))
            n, got, owed = groups.get(key, (0, Decimal(0), Decimal(0)))
            groups[key] = (n + 1, got + Decimal(paid or 0), owed + case.balance)
            total += 1
            cured += case.stage in CURED
            if not case.stage.terminal:
                open_cases += 1
                placed = max(0, (case.created_at.date() - due_date).days)
                rolled += bucket(case.days_past_due) > bucket(placed)
    rows = [
        Recovery(cur, strategy, BUCKETS[b][2], n, paid, owed)
        for (cur, strategy, b), (n, paid, owed) in sorted(groups.items())
    ]
    return rows, total, cured, open_cases, rolled


async def _contacts(db: Database) -> tuple[Counter[str], Counter[tuple[str, str]], int]:
    """Contact events by outcome; the gate's held-back ones by reason; contacts made."""
    outcome = CaseEvent.details["outcome"].as_string()
    reason = CaseEvent.details["reason"].as_string()
    step = CaseEvent.details["step"].as_string()
    manual = sa.case((step.like("manual-%"), 1), else_=0)
    statement = (
        select(outcome, reason, manual, sa.func.count())
        .where(CaseEvent.kind == "contact")
        .group_by(outcome, reason, manual)
    )
    outcomes: Counter[str] = Counter()
    held: Counter[tuple[str, str]] = Counter()
    made = 0
    async with db.session() as session:
        for found, why, by_hand, n in await session.exec(statement):
            outcomes[str(found)] += n
            if found in ("deferred", "blocked"):
                held[(str(found), str(why or ""))] += n
            if found == "sent" or by_hand:
                made += n
    return outcomes, held, made


async def _load(db: Database, today: date) -> list[Load]:
    day = col(AgentAssignment.visit_day)
    on_day = sa.func.sum(sa.case((day == today, 1), else_=0))
    in_week = sa.func.count(col(AgentAssignment.id))
    statement = (
        select(FieldAgent, on_day, in_week)
        .outerjoin(
            AgentAssignment,
            sa.and_(
                col(AgentAssignment.agent_id) == col(FieldAgent.id),
                day >= today,
                day < today + timedelta(days=WEEK),
            ),
        )
        .where(col(FieldAgent.active))
        .group_by(col(FieldAgent.id))
        .order_by(col(FieldAgent.region), col(FieldAgent.id))
    )
    async with db.session() as session:
        return [
            Load(a.id, a.name, a.region, int(n or 0), a.capacity_per_day, int(w or 0))
            for a, n, w in await session.exec(statement)
        ]


async def portfolio(db: Database, today: date) -> Portfolio:
    recovery, cases, cured, open_cases, rolled = await _recovery(db)
    outcomes, held, made = await _contacts(db)
    return Portfolio(
        recovery=recovery,
        cases=cases,
        cured=cured,
        open_cases=open_cases,
        rolled=rolled,
        answered=outcomes["answered"],
        unanswered=outcomes["unanswered"],
        contacts_made=made,
        held_back=sorted(((o, r, n) for (o, r), n in held.items()), key=lambda x: (-x[2], x)),
        load=await _load(db, today),
    )
