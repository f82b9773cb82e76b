"""The field collector's day, read from the SQL read model the workflows keep.

Today is the collector's own zone (``users.timezone``). A visit is on the day when it is
booked (``scheduled_at``) within that local day and the collector's agent id is among its
collectors; the other collectors are the partner(s) named on the card. The address is shown
in full: going to the door is this person's job, and only the visits assigned to them are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from activities.db import Database
from activities.vault.store import Vault
from models.common import Stage
from models.tables import Borrower, Case, FieldAgent, Loan, Visit
from web.casefile import Detail, mask

MAX_VISITS = 50  # a day holds a handful (capacity_per_day); a bound keeps the page small


@dataclass(frozen=True)
class DayVisit:
    loan_id: str
    visit_no: int
    at: datetime
    local: str  # "15:30" in the collector's zone
    address: str
    map_link: str
    name: str  # masked
    language: str
    partners: list[str]
    balance: Decimal
    currency: str
    stage: str
    outcome: str | None
    strategy_id: str


def day_bounds(now: datetime, zone: str) -> tuple[datetime, datetime]:
    local = now.astimezone(ZoneInfo(zone))
    start = datetime.combine(local.date(), time(0), local.tzinfo)
    return start, start + timedelta(days=1)


def map_link(address: str) -> str:
    """A geo: URI (RFC 5870): the phone's own map app opens it; no map site is loaded here."""
    return f"geo:0,0?q={quote(address)}"


async def the_day(
    db: Database, agent_id: str, zone: str, now: datetime, vault: Vault | None = None
) -> list[DayVisit]:
    """Today's visits of this collector in time order (done ones keep their place)."""
    start, end = day_bounds(now, zone)
    async with db.session() as session:
        rows = await session.exec(
            select(Visit, Case, Borrower)
            .join(Case, col(Case.case_id) == col(Visit.case_id))
            .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
            .join(Borrower, col(Borrower.id) == col(Loan.borrower_id))
            .where(col(Visit.scheduled_at) >= start, col(Visit.scheduled_at) < end)
            .order_by(col(Visit.scheduled_at), col(Visit.case_id))
            .limit(MAX_VISITS * 4)
        )
        mine = [(v, c, b) for v, c, b in rows if agent_id in v.collectors][:MAX_VISITS]
        others = {a for v, _, _ in mine for a in v.collectors if a != agent_id}
        if vault is not None:  # DESIGN §10: the address and name are sealed in the row
            mine = [(v, c, await vault.opened(b)) for v, c, b in mine]
        names = {}
        if others:
            agents = await session.exec(select(FieldAgent).where(col(FieldAgent.id).in_(others)))
            names = {a.id: a.name for a in agents}
    local_zone = ZoneInfo(zone)
    return [
        DayVisit(
            loan_id=case.loan_id,
            visit_no=visit.visit_no,
            at=visit.scheduled_at or start,
            local=(visit.scheduled_at or start).astimezone(local_zone).strftime("%H:%M"),
            address=borrower.address,
            map_link=map_link(borrower.address),
            name=mask(Detail.NAME, borrower.name),
            language=borrower.locale,
            partners=[f"{names.get(a, a)} ({a})" for a in visit.collectors if a != agent_id],
            balance=case.balance,
            currency=case.currency,
            stage=case.stage.value,
            outcome=visit.outcome.value if visit.outcome else None,
            strategy_id=case.strategy_id,
        )
        for visit, case, borrower in mine
    ]


def open_for_outcome(visit: DayVisit) -> bool:
    """Still to record: the outcome, or after "met" the terms (if the case refused them)."""
    if visit.outcome is None:
        return visit.stage == Stage.VISIT.value
    return visit.outcome == "met" and visit.stage == Stage.NEGOTIATING.value
