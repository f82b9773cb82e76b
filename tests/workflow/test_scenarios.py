"""The case workflow's scenarios on the time-skipping server with stand-in activities."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import case as c
from models.common import Actor, Role, Stage, case_id_for
from tests import factories
from tests.stand_ins import StandIns, running_workers
from tests.workflow.helpers import advance_to_stage, advance_until, state
from workflows import localtime
from workflows.case import CollectionCase

OPERATOR = Actor(id="op-1", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sup-1", role=Role.SUPERVISOR)
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)


async def start(
    env: WorkflowEnvironment, inp: c.CaseInput, task_queue: str
) -> WorkflowHandle[CollectionCase, c.CaseView]:
    return await env.client.start_workflow(
        CollectionCase.run, inp, id=case_id_for(inp.loan.loan_id), task_queue=task_queue
    )


async def pay(handle: WorkflowHandle[CollectionCase, c.CaseView], ref: str, amount: Decimal) -> c.CaseView:
    now = await handle.query(CollectionCase.state)
    del now
    result: c.CaseView = await handle.execute_update(
        c.UPDATE_PAYMENT,
        c.PaymentInput(payment_ref=ref, amount=amount, paid_at=_utcnow_from(await state(handle)), actor=SYSTEM),
        result_type=c.CaseView,
    )
    return result


def _utcnow_from(view: c.CaseView) -> object:
    return view.opened_at


async def test_paid_after_first_sms_resolves_without_further_contact(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 1: a payment in full after the first SMS resolves; only a thank-you follows."""
    stand_ins = StandIns()
    inp = factories.case_input(messaging_queue=messaging_queue)
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: len(v.contact_log) >= 1)
        assert [s.key.rsplit("/", 1)[1] for s in stand_ins.sent] == ["reminder-0"]
        view = await handle.execute_update(
            c.UPDATE_PAYMENT,
            c.PaymentInput(payment_ref="P-1", amount=inp.loan.amount_overdue,
                           paid_at=inp.borrower and (await state(handle)).opened_at, actor=SYSTEM),
            result_type=c.CaseView,
        )
        assert view.stage is Stage.RESOLVED
        result = await handle.result()
    assert result.stage is Stage.RESOLVED
    assert result.balance == Decimal("0")
    steps = [s.key.rsplit("/", 1)[1] for s in stand_ins.sent]
    assert steps == ["reminder-0", "thank-you"]
