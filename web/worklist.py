"""The operator worklist, read from the SQL read model (the projection the workflows keep).

Three sections, each paged: cases whose next contact falls within the borrower's local today,
with whether their contact window (08:00-21:00 local, the compliance gate's) is open now;
borrower replies and call-back requests of the last week (SMS text that was not a keyword,
IVR key 2); visit proposals with no confirmed slot yet. Reads only: an action is taken on the
case page, through the case's own service.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select

from activities.db import Database
from activities.vault import texts
from activities.vault.store import Vault
from models.common import TERMINAL_STAGES
from models.tables import Borrower, BorrowerLink, Case, CaseEvent, Loan, Visit
from web.timeline_text import note_text

PAGE_SIZE = 25
WINDOW = (time(8, 0), time(21, 0))
REPLY_DAYS = 7


@dataclass(frozen=True)
class DueRow:
    loan_id: str
    stage: str
    next_kind: str
    next_at: datetime
    next_local: str  # the next action in the borrower's zone: "12-01 15:15"
    local_time: str
    window_open: bool
    balance: str
    currency: str


@dataclass(frozen=True)
class ReplyRow:
    loan_id: str
    at: datetime
    kind: str  # "callback" or "reply"
    summary: str


@dataclass(frozen=True)
class ProposalRow:
    loan_id: str
    visit_no: int
    proposed_at: datetime
    collectors: list[str]


@dataclass(frozen=True)
class Worklist:
    due: list[DueRow]
    replies: list[ReplyRow]
    proposals: list[ProposalRow]
    page: int
    more: bool


def _open() -> sa.ColumnElement[bool]:
    return col(Case.stage).not_in([s.value for s in TERMINAL_STAGES])


def _due_row(case: Case, zone: str, now: datetime) -> DueRow | None:
    local = now.astimezone(ZoneInfo(zone))
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), local.tzinfo)
    if case.next_action_at is None or case.next_action_at >= end_of_day:
        return None
    return DueRow(
        loan_id=case.loan_id,
        stage=case.stage.value,
        next_kind=case.next_action_kind or "",
        next_at=case.next_action_at,
        next_local=case.next_action_at.astimezone(local.tzinfo).strftime("%m-%d %H:%M"),
        local_time=local.strftime("%H:%M"),
        window_open=WINDOW[0] <= local.time() < WINDOW[1],
        balance=f"{case.balance:.2f}",
        currency=case.currency,
    )


async def worklist(
    db: Database,
    now: datetime,
    page: int = 1,
    region: str | None = None,
    vault: Vault | None = None,
) -> Worklist:
    offset = (page - 1) * PAGE_SIZE
    async with db.session() as session:
        query = (
            select(Case, Borrower.timezone)
            .join(Loan, col(Loan.loan_id) == col(Case.loan_id))
            .join(Borrower, col(Borrower.id) == col(Loan.borrower_id))
            .where(_open(), col(Case.next_action_at) < now + timedelta(days=1))
            .order_by(col(Case.next_action_at))
        )
        if region is not None:
            query = query.where(Borrower.region == region)
        due = [
            row
            for case, zone in await session.exec(query.offset(offset).limit(PAGE_SIZE + 1))
            if (row := _due_row(case, zone, now)) is not None
        ]
        # Two sources, one list: each gives its newest rows up to the end of this page, and
        # the page is cut from the merge (an offset into each alone would skip rows).
        reach = offset + PAGE_SIZE + 1
        events = await session.exec(
            select(CaseEvent, Case.loan_id)
            .join(Case, col(Case.case_id) == col(CaseEvent.case_id))
            .where(
                _open(),
                CaseEvent.kind == "note",
                CaseEvent.actor_role == "system",
                CaseEvent.at >= now - timedelta(days=REPLY_DAYS),
            )
            .order_by(col(CaseEvent.at).desc(), col(CaseEvent.id).desc())
            .limit(reach)
        )
        replies = [reply for event, loan_id in events if (reply := _reply(event, loan_id))]
        # A borrower's page locked after wrong answers: the borrower may need a call.
        locked = await session.exec(
            select(BorrowerLink)
            .where(col(BorrowerLink.locked_until) >= now - timedelta(days=REPLY_DAYS))
            .order_by(col(BorrowerLink.locked_until).desc(), col(BorrowerLink.id).desc())
            .limit(reach)
        )
        replies += [
            ReplyRow(link.loan_id, _aware(link.locked_until), "locked", "") for link in locked
        ]
        replies.sort(key=lambda row: (_aware(row.at), row.loan_id), reverse=True)
        replies = replies[offset:reach]
        visits = await session.exec(
            select(Visit, Case.loan_id)
            .join(Case, col(Case.case_id) == col(Visit.case_id))
            .where(_open(), col(Visit.scheduled_at).is_(None), col(Visit.outcome).is_(None))
            .order_by(col(Visit.proposed_at))
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
        proposals = [
            ProposalRow(loan_id, visit.visit_no, visit.proposed_at, list(visit.collectors))
            for visit, loan_id in visits
        ]
    more = any(len(rows) > PAGE_SIZE for rows in (due, replies, proposals))
    if vault is not None:  # DESIGN §10: a reply's text is sealed; open it for the operator
        replies = await _opened(vault, replies[:PAGE_SIZE])
    return Worklist(due[:PAGE_SIZE], replies[:PAGE_SIZE], proposals[:PAGE_SIZE], page, more)


async def _opened(vault: Vault, replies: list[ReplyRow]) -> list[ReplyRow]:
    refs = [ref for row in replies for ref in texts.refs_in(row.summary)]
    opened = await texts.open_texts(vault, refs)
    return [
        dataclasses.replace(row, summary=texts.replace_refs(row.summary, opened)) for row in replies
    ]


def _reply(event: CaseEvent, loan_id: str) -> ReplyRow | None:
    """A borrower's call-back request (IVR key 2) or free-text SMS reply; other system notes
    (a key 1 on a case that already has a promise) are not for the worklist."""
    if event.details.get("kind") == "callback_requested":
        return ReplyRow(loan_id, event.at, "callback", event.summary)
    if "sid" in event.details:
        text = note_text(event.summary.removeprefix("borrower wrote: "))
        return ReplyRow(loan_id, event.at, "reply", text)
    return None


def _aware(moment: datetime | None) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
