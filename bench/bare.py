"""The bare baselines of the throughput benchmark: the same HTTP path, a trivial workflow.

A baseline only says something when it shares everything with the measured path but the thing
measured. So the bare routes are mounted in the benchmark's own app (never in the product),
behind the same API-key auth and role check, validating the same request body, and they start
workflows on a worker built by the same ``build_workers`` (same sandbox runner, same executor)
with an input of the same type and size as a case's:

- ``POST /bench/overdue-events`` starts ``BenchTimer``, which waits on one timer;
- ``POST /bench/ledgers/{loan_id}/payments`` runs ``BenchLedger``'s update (it appends the
  payment to a list) and then one query, as the product's payment route answers with the state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel
from temporalio.client import Client

from api.auth import Action
from api.deps import StateDep, TemporalClientDep, require
from api.schemas import OverdueEvent, PaymentBody, to_input
from bench.bare_workflows import (
    LEDGER_QUERY,
    LEDGER_UPDATE,
    LEDGER_WORKFLOW,
    TIMER_WORKFLOW,
    bare_case_id,
    ledger_id,
)
from models import case as c
from models.common import Actor


class BareAccepted(BaseModel):
    workflow_id: str


class BareReceipt(BaseModel):
    payments: int


def bare_router(task_queue: str) -> APIRouter:
    """Bench-only routes starting and updating the bare workflows on ``task_queue``."""
    router = APIRouter(prefix="/bench", include_in_schema=False)

    @router.post("/overdue-events", status_code=202)
    async def bare_start(
        event: Annotated[OverdueEvent, Body()],
        actor: Annotated[Actor, Depends(require(Action.OVERDUE_EVENT))],
        state: StateDep,
        client: TemporalClientDep,
    ) -> BareAccepted:
        strategy = state.strategies.choose(event.loan_id, event.strategy, state.settings)
        inp = c.CaseInput(
            loan=event.loan(),
            borrower=event.borrower,
            strategy=strategy,
            messaging_task_queue=state.settings.messaging_task_queue,
            search_attributes=True,
        )
        workflow_id = bare_case_id(event.loan_id)
        await client.start_workflow(TIMER_WORKFLOW, inp, id=workflow_id, task_queue=task_queue)
        return BareAccepted(workflow_id=workflow_id)

    @router.post("/ledgers/{loan_id}/payments")
    async def bare_payment(
        loan_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)],
        body: Annotated[PaymentBody, Body()],
        actor: Annotated[Actor, Depends(require(Action.PAYMENT))],
        client: TemporalClientDep,
    ) -> BareReceipt:
        handle = client.get_workflow_handle(ledger_id(loan_id))
        await handle.execute_update(
            LEDGER_UPDATE, to_input(body, c.PaymentInput, actor), result_type=int
        )
        count: int = await handle.query(LEDGER_QUERY, result_type=int)
        return BareReceipt(payments=count)

    return router


async def start_ledgers(client: Client, task_queue: str, loan_ids: list[str]) -> None:
    """The bare ledgers the payment baseline updates (set up before the clock starts)."""
    for loan_id in loan_ids:
        await client.start_workflow(
            LEDGER_WORKFLOW, loan_id, id=ledger_id(loan_id), task_queue=task_queue
        )
