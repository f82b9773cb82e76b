"""Helpers for the field collector's tests: collectors in the borrower's zone, booked visits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import select
from temporalio.client import Client

from api.case_ops import read_case, run_update
from models import case as c
from models.common import Actor, Role, case_id_for
from models.tables import Visit
from models.users import User
from tests.web.conftest import LiveSite

BOOKER = Actor(id="booking-operator", role=Role.OPERATOR)


async def collector_in(site: LiveSite, zone: str, locale: str = "en") -> tuple[str, str]:
    """A field collector whose day is the borrower's day; (username, agent id)."""
    username = await site.person(Role.OPERATOR, collector=True, locale=locale)
    async with site.database.session() as session:
        user = (await session.exec(select(User).where(User.username == username))).one()
        user.timezone = zone
        session.add(user)
        await session.commit()
        return username, user.agent_id or ""


async def in_visit_stage(client: Client, loan_id: str, seconds: float = 20) -> c.CaseView:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        view = await read_case(client, case_id_for(loan_id))
        if view.stage.value == "visit" and view.visits:
            return view
        await asyncio.sleep(0.2)
    raise AssertionError(f"{loan_id} never reached the visit stage")


async def book(
    site: LiveSite, client: Client, loan_id: str, at: datetime, collectors: list[str]
) -> None:
    """Book the case's visit at ``at`` with these collectors, and wait for the read model."""
    await in_visit_stage(client, loan_id)
    inp = c.ScheduleVisitInput(actor=BOOKER, at=at, collectors=collectors)
    await run_update(client, case_id_for(loan_id), c.UPDATE_SCHEDULE_VISIT, inp)
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        async with site.database.session() as session:
            rows = await session.exec(select(Visit).where(Visit.case_id == case_id_for(loan_id)))
            if any(v.scheduled_at is not None for v in rows):
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the booked visit of {loan_id} never reached the read model")


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def until_begun(at: datetime) -> None:
    """The case takes an outcome only once the slot has begun."""
    wait = (at - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait + 0.2)
