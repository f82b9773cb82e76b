"""The overdue scan: start a case for every open, overdue loan that has none running.

Loans are read in batches ordered by ``loan_id`` (keyset pagination), so a scan of a large book
never holds one long transaction, and a retried scan resumes after the last batch it reported
in its heartbeat. Starting is idempotent: the workflow id is ``case-{loan_id}`` and Temporal
refuses a second start while one runs, so a second scan starts nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import structlog
from pydantic import ValidationError
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.db import Database
from models import activities as act
from models import tables as t
from models.case import CaseInput
from models.common import TERMINAL_STAGES, WORKFLOW_TYPE, Consent, Stage, case_id_for
from models.common import Borrower as BorrowerSnapshot
from models.common import Loan as LoanSnapshot
from models.settings import Settings
from models.strategy import Strategy, choose_strategy, load_strategy, refuse_demo

log = structlog.get_logger(__name__)


@dataclass
class _Counts:
    examined: int = 0
    started: int = 0
    already_open: int = 0
    skipped: list[str] = field(default_factory=list)


async def scan_overdue_loans(
    db: Database, client: Client | None, settings: Settings, inp: act.ScanInput
) -> act.ScanResult:
    if client is None:
        raise ApplicationError(
            "the overdue scan needs a Temporal client; build CaseActivities with one",
            type="NotConfigured",
            non_retryable=True,
        )
    as_of = inp.as_of or datetime.now(UTC).date()
    strategies: dict[str, Strategy] = {}
    counts = _Counts()
    after = _resume_point()
    while True:
        batch = await _overdue_batch(db, as_of, after, inp.batch_size)
        for loan, borrower, stage in batch:
            counts.examined += 1
            if stage is not None and stage not in TERMINAL_STAGES:
                counts.already_open += 1
                continue
            await _start(db, client, settings, strategies, loan, borrower, counts)
        if len(batch) < inp.batch_size:
            break
        after = batch[-1][0].loan_id
        activity.heartbeat(after)
    if counts.skipped:
        log.warning("overdue scan skipped loans with invalid data", loan_ids=counts.skipped)
    log.info(
        "overdue scan done",
        as_of=as_of.isoformat(),
        examined=counts.examined,
        started=counts.started,
        already_open=counts.already_open,
    )
    return act.ScanResult(
        examined=counts.examined, started=counts.started, already_open=counts.already_open
    )


def _resume_point() -> str:
    details = activity.info().heartbeat_details
    return str(details[0]) if details else ""


async def _overdue_batch(
    db: Database, as_of: date, after: str, size: int
) -> list[tuple[t.Loan, t.Borrower, Stage | None]]:
    statement = (
        select(t.Loan, t.Borrower, t.Case.stage)
        .join(t.Borrower, col(t.Borrower.id) == col(t.Loan.borrower_id))
        .outerjoin(t.Case, col(t.Case.loan_id) == col(t.Loan.loan_id))
        .where(col(t.Loan.due_date) < as_of)
        .where(t.Loan.status == t.LoanStatus.OPEN)
        .where(col(t.Loan.amount_overdue) > 0)
        .where(col(t.Loan.loan_id) > after)
        .order_by(col(t.Loan.loan_id))
        .limit(size)
    )
    async with db.session() as session:
        rows = (await session.exec(statement)).all()
    return [(loan, borrower, None if s is None else Stage(s)) for loan, borrower, s in rows]


async def _start(
    db: Database,
    client: Client,
    settings: Settings,
    strategies: dict[str, Strategy],
    loan: t.Loan,
    borrower: t.Borrower,
    counts: _Counts,
) -> None:
    name = choose_strategy(
        loan.loan_id,
        settings.default_strategy,
        settings.challenger_strategy,
        settings.challenger_share,
    )
    if name not in strategies:
        strategies[name] = refuse_demo(
            load_strategy(name, settings.strategy_dir), settings.allows_demo
        )
    try:
        inp = CaseInput(
            loan=_loan_snapshot(loan),
            borrower=_borrower_snapshot(borrower),
            strategy=strategies[name],
            messaging_task_queue=settings.messaging_task_queue,
        )
    except ValidationError:
        counts.skipped.append(loan.loan_id)
        return
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            inp,
            id=case_id_for(loan.loan_id),
            task_queue=settings.task_queue,
            # A running case is left alone; a completed one is not reopened by a scan (a new
            # overdue event with a later due date does that, through the API).
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        counts.already_open += 1
        return
    counts.started += 1
    await _set_strategy(db, loan.loan_id, name)


async def _set_strategy(db: Database, loan_id: str, strategy_id: str) -> None:
    """The loan's strategy is the one its current case runs."""
    async with db.session() as session:
        row = await session.get(t.Loan, loan_id)
        if row is not None and row.strategy_id != strategy_id:
            row.strategy_id = strategy_id
            session.add(row)
            await session.commit()


def _loan_snapshot(loan: t.Loan) -> LoanSnapshot:
    return LoanSnapshot(
        loan_id=loan.loan_id,
        currency=loan.currency,
        amount_overdue=loan.amount_overdue,
        outstanding_balance=loan.outstanding_balance,
        due_date=loan.due_date,
    )


def _borrower_snapshot(borrower: t.Borrower) -> BorrowerSnapshot:
    return BorrowerSnapshot(
        id=borrower.id,
        name=borrower.name,
        phone=borrower.phone,
        timezone=borrower.timezone,
        locale=borrower.locale,
        region=borrower.region,
        address=borrower.address,
        consent=Consent(sms=borrower.consent_sms, call=borrower.consent_call),
        # A sealed row (DESIGN §10) gives no name or phone: the case gets the fingerprint.
        phone_ref=borrower.phone_hmac or "",
    )
