"""Talking to case workflows: start one idempotently, run an action, read the state, and say
clearly why a case cannot take an action (unknown, closed and how, busy, unreachable)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.db import Database
from api.errors import ApiError, case_busy, not_taken_by_worker, temporal_error
from api.late_payments import reopened_input
from api.store import StoreUnavailable
from models import case as c
from models.common import WORKFLOW_TYPE, Actor, Borrower, Channel, Loan, Role, case_id_for
from models.settings import Settings
from models.strategy import Strategy

log = structlog.get_logger(__name__)

# An action waits this long for the case to accept it; the workflow answers in milliseconds
# when a worker is up, so running out means no worker is polling.
UPDATE_TIMEOUT = timedelta(seconds=20)
QUERY_TIMEOUT = timedelta(seconds=10)
_START_ATTEMPTS = 3
# Deliveries of one action whose update the worker's task did not take (see _deliver).
_DELIVERIES = 5
# Reads of the state after an applied action, while the server asks for a retry.
_QUERIES = 5
# Only the server's "retry" answer: a read that timed out has already waited QUERY_TIMEOUT.
_QUERY_AGAIN = (RPCStatusCode.UNAVAILABLE,)


class StartOutcome(StrEnum):
    STARTED = "started"
    EXISTING = "existing"


async def _describe(client: Client, case_id: str) -> WorkflowExecutionDescription | None:
    try:
        return await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _final_view(
    client: Client, description: WorkflowExecutionDescription
) -> c.CaseView | None:
    """The closing state of a completed run (from its history: no worker needed)."""
    if description.status != WorkflowExecutionStatus.COMPLETED:
        return None
    handle = client.get_workflow_handle(
        description.id, run_id=description.run_id, result_type=c.CaseView
    )
    view: c.CaseView = await handle.result(follow_runs=False)
    return view


def closed_detail(case_id: str, view: c.CaseView | None, status: str) -> str:
    if view is not None:
        return (
            f"case {case_id} is closed ({view.stage.value}: {view.terminal_reason}); "
            "it accepts no further actions"
        )
    return f"case {case_id} has ended ({status}); it accepts no further actions"


async def not_open_error(client: Client, case_id: str) -> ApiError:
    """404 for an unknown case, 409 naming how a closed one ended."""
    description = await _describe(client, case_id)
    if description is None:
        return ApiError(404, f"no case {case_id}: no overdue event was received for this loan")
    if description.status == WorkflowExecutionStatus.RUNNING:
        return ApiError(503, f"case {case_id} is moving to a new run; retry", retry_after=1)
    view = await _final_view(client, description)
    status = description.status.name.lower() if description.status else "closed"
    return ApiError(409, closed_detail(case_id, view, status))


def repeat_event(
    loan: Loan, borrower: Borrower, actor: Actor, as_of: datetime | None
) -> c.OverdueUpdateInput:
    """A repeat overdue event for an open case: the figures and the borrower's details."""
    return c.OverdueUpdateInput(
        currency=loan.currency,
        amount_overdue=loan.amount_overdue,
        outstanding_balance=loan.outstanding_balance,
        as_of=as_of,
        phone=borrower.phone or None,
        phone_ref=borrower.phone_ref or None,
        timezone=borrower.timezone,
        region=borrower.region,
        consent_sms=borrower.consent.sms,
        consent_call=borrower.consent.call,
        actor=actor,
    )


async def start_case(
    client: Client,
    settings: Settings,
    loan: Loan,
    borrower: Borrower,
    strategy: Strategy,
    actor: Actor,
    as_of: datetime | None = None,
    database: Database | None = None,
    do_not_contact: tuple[Channel, ...] = (),
) -> StartOutcome:
    """Start ``case-{loan_id}`` unless it is open; an open case gets the new amount instead.

    One start wins however many events race (Temporal refuses a second start for a running
    id). A completed case is reopened only by an event with a later due date: a replayed old
    event must not restart collection of a paid loan.
    """
    case_id = case_id_for(loan.loan_id)
    inp = c.CaseInput(
        loan=loan,
        borrower=borrower,
        strategy=strategy,
        messaging_task_queue=settings.messaging_task_queue,
        search_attributes=True,
        # The do-not-contact register (DESIGN §10): a number that opted out opens opted out.
        do_not_contact=sorted(do_not_contact),
    )
    reuse = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    for _ in range(_START_ATTEMPTS):
        try:
            await client.start_workflow(
                WORKFLOW_TYPE,
                inp,
                id=case_id,
                task_queue=settings.task_queue,
                id_reuse_policy=reuse,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            return StartOutcome.STARTED
        except WorkflowAlreadyStartedError:
            pass
        try:
            # Applied or refused whole (a currency mismatch, a stale event): DESIGN §2.
            await _deliver(
                client.get_workflow_handle(case_id),
                c.UPDATE_OVERDUE,
                repeat_event(loan, borrower, actor, as_of),
            )
            return StartOutcome.EXISTING
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise ApiError(409, getattr(cause, "message", None) or str(cause or err)) from err
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        # Closed between the start and the signal, or long ago: reopen only for a new due date.
        description = await _describe(client, case_id)
        if description is None or description.status == WorkflowExecutionStatus.RUNNING:
            continue
        view = await _final_view(client, description)
        if view is not None and loan.due_date > view.due_date:
            reuse = WorkflowIDReusePolicy.ALLOW_DUPLICATE
            # A new generation: its contact keys differ, so the borrower is contacted again.
            try:
                carried = await reopened_input(database, case_id, view)
            except StoreUnavailable as exc:
                raise ApiError(
                    503, "the application database is unavailable", retry_after=5
                ) from exc
            # The do-not-contact register (DESIGN §10) adds to the ended case's opt-outs.
            carried["do_not_contact"] = sorted({*carried["do_not_contact"], *do_not_contact})
            inp = inp.model_copy(update=carried)
            continue
        status = description.status.name.lower() if description.status else "closed"
        raise ApiError(
            409,
            closed_detail(case_id, view, status).replace(
                "it accepts no further actions",
                "an overdue event with a later due date opens a new case",
            ),
        )
    raise ApiError(503, f"case {case_id} is changing state; retry the event", retry_after=1)


async def run_update(
    client: Client,
    case_id: str,
    update: str,
    inp: c.ActorAction,
    *,
    update_id: str | None = None,
) -> c.CaseView:
    """Run one action on the case; its validator's refusal becomes a 409 with its sentence."""
    handle = client.get_workflow_handle(case_id)
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT.total_seconds()):
            await _deliver(handle, update, inp, update_id)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = getattr(cause, "message", None) or str(cause or err)
        raise ApiError(409, message, sentences=_translations(cause)) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise await not_open_error(client, case_id) from err
        raise temporal_error(err) from err
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as err:
        raise ApiError(
            503,
            f"case {case_id} did not answer within {int(UPDATE_TIMEOUT.total_seconds())} s; "
            "the action may still be applied, and retrying with the same Idempotency-Key "
            "header is safe",
            retry_after=5,
        ) from err
    return await _view_after_action(handle, case_id, inp.actor.role)


async def _view_after_action(
    handle: WorkflowHandle[Any, Any], case_id: str, role: Role
) -> c.CaseView:
    """The case's state once the action is in. The action is applied whatever this read
    meets, so a failure here is never answered as one (a 503 invites a retry, and a retry
    without an Idempotency-Key would apply it twice: the hostile burst caught exactly this).
    The server turns a query away while it redoes the case's workflow task ("buffered query
    cleared, please retry"): asked again; if it still cannot be read, 202 says so."""
    for attempt in range(1, _QUERIES + 1):
        try:
            view: c.CaseView = await handle.query(
                c.QUERY_STATE, role.value, result_type=c.CaseView, rpc_timeout=QUERY_TIMEOUT
            )
            return view
        except (RPCError, WorkflowQueryFailedError) as err:
            again = isinstance(err, RPCError) and err.status in _QUERY_AGAIN
            if not again or attempt == _QUERIES:
                log.warning("case state unreadable after an applied action", error=str(err))
                break
        await asyncio.sleep(0.2 * attempt)
    raise ApiError(
        202,
        f"the action was applied to case {case_id}, but its state could not be read just "
        "now; GET the case to see it (do not send the action again)",
    )


async def _deliver(
    handle: WorkflowHandle[Any, Any],
    update: str,
    inp: c.ActorAction | c.OverdueUpdateInput,
    update_id: str | None = None,
) -> None:
    """The update, redelivered under the same id while the server reports that the worker's
    workflow task ended without taking it (it was busy with the case's local activities) or
    that it aborted the update (it was redoing the case's task); a 503 "busy" once every
    delivery was turned away."""
    # One id for every delivery: Temporal applies an update id at most once, so a redelivery
    # can never apply the action twice.
    update_id = update_id or f"{update}:{uuid.uuid4().hex}"
    for attempt in range(1, _DELIVERIES + 1):
        try:
            # The update answers a compact receipt (lean history); the view is a query.
            await handle.execute_update(update, inp, id=update_id, result_type=c.UpdateReceipt)
            return
        except (WorkflowUpdateFailedError, RPCError) as err:
            aborted = isinstance(err, RPCError) and err.status == RPCStatusCode.UNAVAILABLE
            if not (aborted or not_taken_by_worker(err)):
                raise
            if attempt == _DELIVERIES:
                raise case_busy() from err
            log.info("update not taken; redelivering", attempt=attempt, aborted=aborted)
            await asyncio.sleep(0.2 * attempt)


def _translations(cause: BaseException | None) -> dict[str, str]:
    """The core's refusal carries its code and its zh-CN sentence as the failure's details."""
    if isinstance(cause, ApplicationError) and cause.type == "Refusal" and len(cause.details) > 1:
        return {"zh-CN": str(cause.details[1])}
    return {}


async def read_case(client: Client, case_id: str, role: Role | None = None) -> c.CaseView:
    """The ``state`` query of an open case, or the final state of a closed one; with a role,
    ``allowed_actions`` is worked out for that role only (the query's cost)."""
    description = await _describe(client, case_id)
    if description is None:
        raise ApiError(404, f"no case {case_id}: no overdue event was received for this loan")
    if description.status == WorkflowExecutionStatus.COMPLETED:
        view = await _final_view(client, description)
        if view is not None:
            return view
    handle = client.get_workflow_handle(case_id)
    try:
        args = [role.value] if role is not None else []
        state: c.CaseView = await handle.query(
            c.QUERY_STATE, args=args, result_type=c.CaseView, rpc_timeout=QUERY_TIMEOUT
        )
        return state
    except WorkflowQueryFailedError as err:
        raise ApiError(502, f"case {case_id} could not answer its state: {err}") from err
    except RPCError as err:
        raise temporal_error(err) from err
