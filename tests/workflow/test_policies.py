"""Pauses, preferences, refusals, payments and continue-as-new, on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import case as c
from models.common import Channel, Stage
from models.strategy import NegotiationRules
from tests import factories
from tests.stand_ins import StandIns, running_workers
from tests.workflow.helpers import advance_to_stage, advance_until, state
from tests.workflow.test_scenarios import (
    OPERATOR,
    SUPERVISOR,
    _refusal,
    agree_plan,
    pay,
    start,
    steps,
    update,
    visit_and_meet,
)


async def finished_state(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> c.CaseView:
    """Wait for the case's last run to complete, then read its final state."""
    for _ in range(200):
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.COMPLETED:
            last = env.client.get_workflow_handle(handle.id, run_id=description.run_id)
            return await state(last)
        await env.sleep(timedelta(days=1))
    raise AssertionError("the case did not complete")


@asynccontextmanager
async def case_after_first_sms(
    env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> AsyncIterator[tuple[WorkflowHandle[Any, Any], StandIns]]:
    """A new case with workers running, advanced until its first reminder has gone out."""
    stand_ins = StandIns()
    inp = factories.case_input(messaging_queue=messaging_queue, now=await env.get_current_time())
    async with running_workers(env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(env, inp, task_queue)
        await advance_until(env, handle, lambda v: len(stand_ins.sent) == 1)
        yield handle, stand_ins
        await handle.terminate("test over")


async def test_hardship_pause_blocks_contact_then_reminders_resume(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 4: a 14-day hardship grace: nothing is sent during it; reminders resume after."""
    async with case_after_first_sms(time_env, task_queue, messaging_queue) as (
        handle,
        stand_ins,
    ):
        view = await update(
            handle, c.UPDATE_HARDSHIP, c.HardshipInput(days=14, reason="hospital", actor=OPERATOR)
        )
        pause_end = view.hardship_until
        assert pause_end is not None
        await advance_until(
            time_env, handle, lambda v: len(stand_ins.sent) > 1, limit=timedelta(days=30)
        )
        later = stand_ins.sent[1:]
        assert all(s.at >= pause_end for s in later)
        assert later[0].key.rsplit("/", 1)[1].startswith("reminder-")  # the cadence resumed


async def test_dispute_pauses_all_contact_until_resolved(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 5: while a dispute is open nothing is sent; resolving it resumes contact."""
    async with case_after_first_sms(time_env, task_queue, messaging_queue) as (
        handle,
        stand_ins,
    ):
        await update(
            handle,
            c.UPDATE_DISPUTE,
            c.DisputeInput(action="open", reason="never borrowed", actor=OPERATOR),
        )
        await time_env.sleep(timedelta(days=20))
        assert len(stand_ins.sent) == 1
        assert (await state(handle)).next_action == c.NextAction(kind="dispute_resolution")
        resolved_at = await time_env.get_current_time()
        await update(
            handle,
            c.UPDATE_DISPUTE,
            c.DisputeInput(
                action="resolve",
                resolution="rejected",
                reason="signed contract on file",
                actor=OPERATOR,
            ),
        )
        await advance_until(time_env, handle, lambda v: len(stand_ins.sent) > 1)
        assert all(s.at >= resolved_at for s in stand_ins.sent[1:])


async def test_sms_opt_out_keeps_calls_and_cease_contact_stops_all(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 6: after 退订 no SMS goes out but calls do; after cease-contact nothing does."""
    async with case_after_first_sms(time_env, task_queue, messaging_queue) as (
        handle,
        stand_ins,
    ):
        await handle.signal(c.SIGNAL_INBOUND, c.InboundMessage(provider_sid="SMin1", text=" 退订 "))
        view = await advance_to_stage(time_env, handle, Stage.WAITING)
        assert view.opted_out == [Channel.SMS]
        assert [s.channel for s in stand_ins.sent] == ["sms", "call", "call"]
        blocked = [r for r in view.contact_log if r.outcome is c.ContactOutcome.BLOCKED]
        assert {r.purpose for r in blocked} == {"reminder-2", "reminder-4"}
        assert all("opted out of sms" in r.reason for r in blocked)


async def test_cease_contact_stops_all_remote_contact(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 6b: after a cease-contact request no SMS or call goes out at all."""
    async with case_after_first_sms(time_env, task_queue, messaging_queue) as (
        handle,
        other,
    ):
        await update(
            handle,
            c.UPDATE_CEASE_CONTACT,
            c.CeaseContactInput(reason="letter from lawyer", actor=OPERATOR),
        )
        # No visit either (DESIGN §2: visits are contact): the case goes to a supervisor.
        view = await advance_to_stage(time_env, handle, Stage.ESCALATED)
        assert not view.visits
        assert len(other.sent) == 1
        blocked = [r for r in view.contact_log if r.outcome is c.ContactOutcome.BLOCKED]
        assert {r.purpose for r in blocked} >= {f"reminder-{i}" for i in range(1, 5)}
        assert all("cease contact" in r.reason for r in blocked)


async def test_action_out_of_stage_is_refused_and_leaves_no_trace(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 7: an operator action that does not fit is refused with a readable sentence."""
    async with case_after_first_sms(time_env, task_queue, messaging_queue) as (handle, _):
        before = await state(handle)
        refused = await _refusal(
            handle,
            c.UPDATE_RECORD_VISIT,
            c.RecordVisitInput(outcome=c.VisitOutcome.MET, actor=OPERATOR),
        )
        assert refused == (
            "Cannot record visit outcomes: the case is in stage 'reminding'; this is possible "
            "in: visit."
        )
        # Negotiation is open at any stage now (DESIGN §2); a supervisor's escalation
        # decision is not, and is refused with the stage it needs.
        refused_plan = await _refusal(
            handle,
            c.UPDATE_ESCALATION,
            c.EscalationInput(decision=c.EscalationDecision.WRITE_OFF, actor=SUPERVISOR),
        )
        assert "stage 'reminding'" in refused_plan
        assert await state(handle) == before
        history = await handle.fetch_history()
        update_events = [e for e in history.events if "update" in str(e.WhichOneof("attributes"))]
        assert update_events == []


async def test_duplicate_payment_counts_once_and_partials_resolve(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 8: a payment reference counts once; partial payments add up to resolution."""
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        view = await pay(handle, "P-1", Decimal("500.00"))
        assert view.balance == Decimal("1030.50")
        view = await pay(handle, "P-1", Decimal("500.00"))
        await handle.signal(
            c.SIGNAL_PAYMENT,
            c.PaymentInput(payment_ref="P-1", amount=Decimal("500.00"), paid_at=view.opened_at),
        )
        view = await state(handle)
        assert view.balance == Decimal("1030.50") and len(view.payments) == 1
        await handle.signal(
            c.SIGNAL_PAYMENT,
            c.PaymentInput(payment_ref="P-2", amount=Decimal("30.50"), paid_at=view.opened_at),
        )
        view = await pay(handle, "P-3", Decimal("1000.00"))
        assert view.stage is Stage.RESOLVED
        result = await handle.result()
    assert result.balance == Decimal("0")
    assert [p.payment_ref for p in result.payments] == ["P-1", "P-2", "P-3"]
    assert result.paid_total == inp.loan.amount_overdue


async def test_long_plan_crosses_continue_as_new_without_loss(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 9: a 24-installment plan spans several runs; state arrives whole at the end."""
    stand_ins = StandIns()
    strategy = factories.default_strategy(
        continue_as_new_events=100,
        negotiation=NegotiationRules(
            max_installments=24,
            min_installment_share=Decimal("0.02"),
            min_installment_amount=Decimal("10"),
        ),
    )
    inp = factories.case_input(
        strategy=strategy, messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await visit_and_meet(time_env, handle)
        view = await agree_plan(handle, 24, every=7)
        assert view.plan is not None
        first_log = len(view.contact_log)
        # Pay by signal at each due date, sleeping rather than polling: updates and queries
        # that land during a continue-as-new can wedge the Java test server's time skipping.
        for inst in view.plan.installments:
            gap = inst.due_at - await time_env.get_current_time() - timedelta(hours=12)
            if gap > timedelta(0):
                await time_env.sleep(gap)
            await handle.signal(
                c.SIGNAL_PAYMENT,
                c.PaymentInput(
                    payment_ref=f"P-{inst.index}", amount=inst.amount, paid_at=inst.due_at
                ),
            )
        result = await finished_state(time_env, handle)
    assert result.run_number > 1
    assert result.stage is Stage.RESOLVED
    assert result.plan is not None and len(result.plan.installments) == 24
    assert [p.payment_ref for p in result.payments] == [f"P-{i}" for i in range(1, 25)]
    assert sum(p.amount for p in result.payments) == inp.loan.amount_overdue
    assert len(result.contact_log) >= first_log + 24
    assert [r.purpose for r in result.contact_log[:5]] == [f"reminder-{i}" for i in range(5)]
    assert result.visits and result.visits[0].outcome is c.VisitOutcome.MET
    assert len(result.negotiations) == 1
    reminders = [k for k in steps(stand_ins) if k.startswith("plan-1-installment-")]
    assert len(reminders) == len(set(reminders)) == 24
