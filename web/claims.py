"""Claims: a case is worked by one operator at a time, and worklists show who holds it.

A claim lapses after ``CLAIM_HOURS`` (a person who went home does not block a case for
ever); the holder releases it, and a supervisor or admin may release anyone's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import col, select

from activities.db import Database
from models.common import Role
from models.users import CaseClaim, User

CLAIM_HOURS = 12
RELEASERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def live(claim: CaseClaim | None, now: datetime) -> CaseClaim | None:
    if claim is None or now - claim.claimed_at >= timedelta(hours=CLAIM_HOURS):
        return None
    return claim


async def holder(db: Database, case_id: str, now: datetime) -> CaseClaim | None:
    async with db.session() as session:
        return live(await session.get(CaseClaim, case_id), now)


async def holders(db: Database, case_ids: Iterable[str], now: datetime) -> dict[str, str]:
    """Case id -> username of its live holder, for the cases that have one."""
    wanted = list(set(case_ids))
    if not wanted:
        return {}
    async with db.session() as session:
        rows = await session.exec(select(CaseClaim).where(col(CaseClaim.case_id).in_(wanted)))
        return {c.case_id: c.username for c in rows if live(c, now) is not None}


async def claim(db: Database, case_id: str, user: User, now: datetime) -> CaseClaim:
    """Take the case (or renew one's own claim); the live claim of someone else stays."""
    async with db.session() as session:
        current = await session.get(CaseClaim, case_id)
        if live(current, now) is not None and current is not None and current.user_id != user.id:
            return current
        if current is None:
            current = CaseClaim(
                case_id=case_id, user_id=user.id or 0, username=user.username, claimed_at=now
            )
        else:
            current.user_id, current.username, current.claimed_at = user.id or 0, user.username, now
        session.add(current)
        await session.commit()
        return current


async def release(db: Database, case_id: str, user: User) -> bool:
    """Give the case up; True when a claim was removed. Only the holder or a supervisor/admin."""
    async with db.session() as session:
        current = await session.get(CaseClaim, case_id)
        if current is None:
            return False
        if current.user_id != user.id and user.role not in RELEASERS:
            return False
        await session.delete(current)
        await session.commit()
        return True
