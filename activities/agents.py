"""Field-agent assignment: collectors of the borrower's region with free capacity on the day.

An agent's load on a day is its number of ``agent_assignments`` rows for that day; it is free
while the load is below ``capacity_per_day``. The least loaded go first (ties by id, so the
choice is reproducible). Assignments are keyed (agent, day, case), and a retry for the same case
and day answers with the agents already assigned, so a retried activity never books twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from models import activities as act
from models.tables import AgentAssignment, FieldAgent

# A concurrent booking of the same agent/day/case makes the insert fail; read again and retry.
_ATTEMPTS = 3


async def assign_field_agents(db: Database, inp: act.AssignAgentsInput) -> act.AssignAgentsResult:
    for attempt in range(_ATTEMPTS):
        async with db.session() as session:
            try:
                result = await _assign(session, inp)
                await session.commit()
                return result
            except IntegrityError:
                await session.rollback()
                if attempt == _ATTEMPTS - 1:
                    raise
    raise AssertionError("unreachable")  # the loop returns or raises


async def _assign(session: AsyncSession, inp: act.AssignAgentsInput) -> act.AssignAgentsResult:
    already = await _assigned(session, inp.case_id, inp.visit_day)
    if len(already) >= inp.count:
        return act.AssignAgentsResult(agents=already[: inp.count])
    # Lock the region's agents (PostgreSQL; SQLite serialises writers anyway) so two cases
    # booking the same day cannot both take an agent's last free slot.
    agents = (
        await session.exec(
            select(FieldAgent)
            .where(FieldAgent.region == inp.region, col(FieldAgent.active).is_(True))
            .order_by(col(FieldAgent.id))
            .with_for_update()
        )
    ).all()
    load = await _load(session, [a.id for a in agents], inp.visit_day)
    free = sorted(
        (a for a in agents if a.id not in already and load[a.id] < a.capacity_per_day),
        key=lambda a: (load[a.id], a.id),
    )
    needed = inp.count - len(already)
    if len(free) < needed:
        available = len(already) + len(free)
        return act.AssignAgentsResult(
            reason=(
                f"only {available} collector{'' if available == 1 else 's'} free in region "
                f"{inp.region} on {inp.visit_day.isoformat()}; {inp.count} needed"
            )
        )
    chosen = [a.id for a in free[:needed]]
    for agent_id in chosen:
        session.add(
            AgentAssignment(agent_id=agent_id, case_id=inp.case_id, visit_day=inp.visit_day)
        )
    await session.flush()
    return act.AssignAgentsResult(agents=[*already, *chosen])


async def _assigned(session: AsyncSession, case_id: str, day: date) -> list[str]:
    rows = await session.exec(
        select(AgentAssignment.agent_id)
        .where(AgentAssignment.case_id == case_id, AgentAssignment.visit_day == day)
        .order_by(col(AgentAssignment.id))
    )
    return list(rows.all())


async def _load(session: AsyncSession, agent_ids: list[str], day: date) -> Counter[str]:
    if not agent_ids:
        return Counter()
    rows = await session.exec(
        select(AgentAssignment.agent_id).where(
            col(AgentAssignment.agent_id).in_(agent_ids), AgentAssignment.visit_day == day
        )
    )
    return Counter(rows.all())
