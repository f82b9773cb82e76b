"""Which sync of a case's read model is the newer one, when a workflow task's work was undone.

A sync runs as a local activity inside a workflow task. When that task fails or times out (a
killed worker, a task over its deadline), Temporal forgets it, but its sync has already written
the events it saw. The task is then run again and may take another path, with fewer events, so
"the highest event number wins" keeps the lost task's rows forever (chaos seed 23: a payment the
case holds that the read model never showed). Each sync therefore carries its task's place in the
case's life: the loop's clock (a history event's time) and the history's length then. A later
task has a later place, so its sync replaces what a lost one left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from activities.sql import insert_for, table_of
from models import activities as act
from models.tables import Case, CaseEvent


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def place(session: AsyncSession, p: act.CaseProjection) -> int:
    """1: this sync comes from a later workflow task than the one that wrote the case's row (or
    the row does not say), so its events are the case's over any a lost task left; -1: from an
    earlier task (a lost one, retried late), so it changes nothing; 0: the same task, or a sync
    that does not say, so the event number decides as before."""
    if p.synced_at is None or p.history_length is None or not p.events:
        return 0
    row = (
        await session.exec(
            select(Case.synced_at, Case.synced_history).where(Case.case_id == p.case_id)
        )
    ).first()
    if row is None:
        return 0  # no row yet: nothing to replace, the events are appended
    if row[0] is None or row[1] is None:
        return 1
    mine, theirs = (_aware(p.synced_at), p.history_length), (_aware(row[0]), int(row[1]))
    return (mine > theirs) - (mine < theirs)


async def replace_events(
    db: Database, session: AsyncSession, p: act.CaseProjection, newest: int
) -> None:
    """Drop the events past ``newest`` and write this sync's own over any it shares a number
    with: the lost task's events were never the case's."""
    await session.exec(
        sa.delete(table_of(CaseEvent))
        .where(table_of(CaseEvent).c.case_id == p.case_id)
        .where(table_of(CaseEvent).c.seq > newest)
    )
    rows = [event_row(p.case_id, e) for e in p.events]
    if not rows:
        return
    events = table_of(CaseEvent)
    statement = insert_for(db, events).values(rows)
    columns = ("at", "stage", "kind", "summary", "actor_id", "actor_role", "details")
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=[events.c.case_id, events.c.seq],
            set_={c: statement.excluded[c] for c in columns},
        )
    )


def event_row(case_id: str, e: act.CaseEvent) -> dict[str, Any]:
    """One ``case_events`` row of a synced event."""
    return {
        "case_id": case_id,
        "seq": e.seq,
        "at": e.at,
        "stage": e.stage.value,
        "kind": e.kind.value,
        "summary": e.summary,
        "actor_id": e.actor.id,
        "actor_role": e.actor.role.value,
        "details": dict(e.details),
    }
