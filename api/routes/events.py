"""``POST /v1/overdue-events``: the loan system reports an overdue loan; its case starts."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Depends, status

from api import metrics, store, vaulting
from api.auth import Action
from api.case_ops import StartOutcome, start_case
from api.deps import StateDep, TemporalClientDep, require
from api.errors import ApiError, field_error
from api.schemas import EXAMPLES, OverdueAccepted, OverdueEvent
from api.strategies import StrategyError
from models.common import Actor, Borrower, Channel, case_id_for

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["overdue events"])


@router.post(
    "/overdue-events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OverdueAccepted,
    summary="Report an overdue loan (starts its case, or updates the open one)",
    responses={
        409: {"description": "the loan's case is closed and the event is not a new delinquency"},
        422: {"description": "a field is invalid; each error names the field"},
    },
)
async def overdue_event(
    event: Annotated[OverdueEvent, Body(openapi_examples=EXAMPLES["overdue_event"])],
    actor: Annotated[Actor, Depends(require(Action.OVERDUE_EVENT))],
    state: StateDep,
    client: TemporalClientDep,
) -> OverdueAccepted:
    """Idempotent: a second event for an open case raises its amount and never starts a
    second case (``started: false``); concurrent events for one loan start exactly one case.
    Role: system."""
    settings = state.settings
    try:
        strategy = state.strategies.choose(event.loan_id, event.strategy, settings)
    except StrategyError as exc:
        raise field_error("strategy", str(exc)) from exc
    loan, borrower = event.loan(), Borrower.model_validate(event.borrower.model_dump())
    database = state.database
    stored_strategy: str | None = None
    blocked: tuple[Channel, ...] = ()
    if database is not None:
        vault = vaulting.vault_for(database, settings)
        try:
            stored_strategy = await store.upsert_loan(database, loan, borrower, strategy.id, vault)
            blocked = await vaulting.registered_channels(vault, borrower.phone)
        except store.StoreUnavailable as exc:
            log.error("loan upsert failed", loan_id=loan.loan_id, error=str(exc))
            raise ApiError(503, "the application database is unavailable", retry_after=5) from exc
        # DESIGN §10: the case carries the borrower id and a fingerprint, never the details.
        borrower = vaulting.case_borrower(borrower, vault)
    try:
        outcome = await start_case(
            client, settings, loan, borrower, strategy, actor, event.as_of, database, blocked
        )
    except ApiError as err:
        if err.status_code == 409:
            metrics.OVERDUE_EVENTS.labels("closed").inc()
        raise
    started = outcome is StartOutcome.STARTED
    metrics.OVERDUE_EVENTS.labels(outcome.value).inc()
    if started:
        metrics.CASES_STARTED.labels(strategy.id).inc()
        if database is not None and stored_strategy != strategy.id:  # a reopened loan
            try:
                await store.set_loan_strategy(database, loan.loan_id, strategy.id)
            except store.StoreUnavailable as exc:  # the case runs; the row catches up later
                log.warning("loan strategy not recorded", loan_id=loan.loan_id, error=str(exc))
    log.info(
        "overdue event",
        loan_id=loan.loan_id,
        started=started,
        strategy=f"{strategy.id}/{strategy.version}",
    )
    return OverdueAccepted(case_id=case_id_for(loan.loan_id), started=started)
