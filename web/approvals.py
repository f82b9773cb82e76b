"""The supervisor's approvals: operators' change requests (amount corrections, closes) that
wait for a decision, across cases, oldest first.

A request lives in its case (the ``request_change`` update; the ``state`` query's
``requests``), so the case answers what is pending and what was asked. The read model only
narrows which cases to ask: open cases whose ``request`` events announce more requests than
they decide (the core writes one "request N: ... awaits a supervisor" event per request and
one "request N approved|declined" per decision). A page asks at most ``PAGE_SIZE`` cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, select
from temporalio.client import Client

from activities.db import Database
from api import vaulting
from api.case_ops import read_case
from api.errors import ApiError
from models.common import TERMINAL_STAGES, case_id_for
from models.settings import Settings
from models.tables import Case, CaseEvent

PAGE_SIZE = 20
ASKED = "%awaits a supervisor"  # the core's wording for a new request (workflows/core/actions)


@dataclass(frozen=True)
class Pending:
    loan_id: str
    no: int
    kind: str  # "amount_correction" or "close"
    by_id: str
    by_role: str
    at: datetime
    reason: str
    close_reason: str | None
    corrected_amount: Decimal | None
    amount_overdue: Decimal  # what the case says now, beside what the operator asks for
    currency: str
    stage: str

    @property
    def key(self) -> str:  # the card's id on the page and the decision's target
        return f"{self.loan_id}-{self.no}"


@dataclass(frozen=True)
class ApprovalsPage:
    rows: list[Pending]
    page: int
    more: bool  # another page of cases follows


async def pending_cases(db: Database, page: int) -> tuple[list[str], bool]:
    """Open cases with undecided requests, the longest waiting first; one extra to see more."""
    asked = sa.func.sum(sa.case((col(CaseEvent.summary).like(ASKED), 1), else_=0))
    decided = sa.func.sum(sa.case((col(CaseEvent.summary).like(ASKED), 0), else_=1))
    first = sa.func.min(CaseEvent.at)
    statement = (
        select(Case.loan_id)
        .join(CaseEvent, col(CaseEvent.case_id) == col(Case.case_id))
        .where(CaseEvent.kind == "request", col(Case.stage).not_in(list(TERMINAL_STAGES)))
        .group_by(col(Case.loan_id))
        .having(asked > decided)
        .order_by(first, col(Case.loan_id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    async with db.session() as session:
        loans = [str(loan) for loan in await session.exec(statement)]
    return loans[:PAGE_SIZE], len(loans) > PAGE_SIZE


async def pending(
    db: Database,
    connect: Callable[[], Awaitable[Client]],
    page: int = 1,
    settings: Settings | None = None,
) -> ApprovalsPage:
    """The page's pending requests; Temporal is asked only when some case has one. With the
    settings, the requests' sealed reasons are opened for the reader (DESIGN §10)."""
    loans, more = await pending_cases(db, page)
    if not loans:
        return ApprovalsPage(rows=[], page=page, more=more)
    client = await connect()
    rows: list[Pending] = []
    for loan_id in loans:  # one query each, in turn: at most PAGE_SIZE per page
        try:
            view = await read_case(client, case_id_for(loan_id))
        except ApiError:  # gone between the read model and now: nothing to decide there
            continue
        if settings is not None:
            view = await vaulting.opened_model(vaulting.vault_for(db, settings), view)
        rows.extend(
            Pending(
                loan_id=loan_id,
                no=r.no,
                kind=r.kind,
                by_id=r.by.id,
                by_role=r.by.role.value,
                at=r.at,
                reason=r.reason,
                close_reason=r.close_reason,
                corrected_amount=r.corrected_amount,
                amount_overdue=view.amount_overdue,
                currency=view.currency,
                stage=view.stage.value,
            )
            for r in view.requests
            if r.status == "pending"
        )
    rows.sort(key=lambda r: (r.at, r.loan_id, r.no))
    return ApprovalsPage(rows=rows, page=page, more=more)
