"""Issue 2's scenarios 2 and 3, driven on the time-skipping server with stand-in activities.

Shared by ``record.py`` (which commits their histories for the replay tests) and the audit
tests (which read their timelines). Each driver runs one case to its end and returns the handle
``start_workflow`` gave (its first run).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models import case as c
from models.common import Actor, Role, Stage, case_id_for
from models.strategy import Strategy
from tests import factories
from workflows import localtime
from workflows.case import CollectionCase

OPERATOR = Actor(id="op-1", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sup-1", role=Role.SUPERVISOR)
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)

CaseHandle = WorkflowHandle[CollectionCase, c.CaseView]


async def state(handle: CaseHandle) -> c.CaseView:
    return await handle.query(CollectionCase.state)


async def update_view(handle: CaseHandle, name: str, arg: Any) -> c.CaseView:
    """Run an update (it answers a compact receipt) and read the view it left."""
    await handle.execute_update(name, arg, result_type=c.UpdateReceipt)
    return await state(handle)


async def advance_until(
    env: WorkflowEnvironment,
    handle: CaseHandle,
    reached: Callable[[c.CaseView], bool],
    *,
    step: timedelta = timedelta(hours=3),
    limit: timedelta = timedelta(days=120),
) -> c.CaseView:
    """Skip time in steps until ``reached(state)`` (``tests.workflow.helpers``, typed here)."""
    waited = timedelta(0)
    while True:
        view = await state(handle)
        if reached(view):
            return view
        if waited >= limit:
            raise AssertionError(
                f"not reached after {limit}: stage {view.stage}, next {view.next_action}"
            )
        await env.sleep(step)
        waited += step


async def advance_to_stage(
    env: WorkflowEnvironment, handle: CaseHandle, stage: Stage
) -> c.CaseView:
    return await advance_until(env, handle, lambda v: v.stage is stage)


async def start_case(
    env: WorkflowEnvironment,
    task_queue: str,
    messaging_queue: str,
    *,
    loan_id: str,
    strategy: Strategy | None = None,
) -> CaseHandle:
    # Due today in the borrower's zone by the server's clock, which time skipping moves on.
    now = await env.get_current_time()
    # In a zone where it is mid-afternoon: the first loan's SMS goes at once whatever the hour.
    borrower = factories.borrower(timezone=factories.open_window_zone(now))
    today = localtime.local_date(now, borrower.timezone)
    inp = factories.case_input(
        strategy=strategy,
        messaging_queue=messaging_queue,
        the_borrower=borrower,
        the_loan=factories.loan(due=today, loan_id=loan_id),
    )
    return await env.client.start_workflow(
        CollectionCase.run, inp, id=case_id_for(loan_id), task_queue=task_queue
    )


def latest(env: WorkflowEnvironment, started: CaseHandle) -> CaseHandle:
    """A handle without run id: queries, updates and describe reach the case's current run."""
    return env.client.get_workflow_handle_for(CollectionCase.run, started.id)


async def run_to_end(
    env: WorkflowEnvironment, handle: CaseHandle, *, step: timedelta = timedelta(hours=3)
) -> c.CaseView:
    """Skip time until the case's current run closes; its result, read from the history.

    Not ``handle.result()``: while a result is awaited the test server skips time freely, and
    once the case has completed it skips to the next thing it has scheduled (years ahead, the
    run timeouts), so every later test on the same server would start with a clock far from
    the wall clock.
    """
    for _ in range(10_000):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        await env.sleep(step)
    history = await handle.fetch_history()
    closing = history.events[-1]
    if not closing.HasField("workflow_execution_completed_event_attributes"):
        raise AssertionError(f"the case did not complete: {closing}")
    payloads = closing.workflow_execution_completed_event_attributes.result.payloads
    # Through the client's converter: its codec decrypts what the server holds.
    view: c.CaseView = (await env.client.data_converter.decode(payloads, [c.CaseView]))[0]
    return view


async def through_visit(env: WorkflowEnvironment, handle: CaseHandle) -> c.CaseView:
    """Reminders, the wait, a visit proposed, confirmed by an operator, reminded and met."""
    view = await advance_until(
        env,
        handle,
        lambda v: bool(v.visits) and v.visits[-1].proposal_sent,
        limit=timedelta(days=40),
    )
    visit = view.visits[-1]
    await update_view(
        handle, c.UPDATE_SCHEDULE_VISIT, c.ScheduleVisitInput(at=visit.proposed_at, actor=OPERATOR)
    )
    await advance_until(env, handle, lambda v: v.visits[-1].reminder_sent)
    now = await env.get_current_time()
    if visit.proposed_at > now:
        await env.sleep(visit.proposed_at - now + timedelta(hours=1))
    met: c.CaseView = await update_view(
        handle,
        c.UPDATE_RECORD_VISIT,
        c.RecordVisitInput(outcome=c.VisitOutcome.MET, notes="met at home", actor=OPERATOR),
    )
    assert met.stage is Stage.NEGOTIATING
    return met


async def agree_plan(handle: CaseHandle, count: int, frequency_days: int = 30) -> c.CaseView:
    view: c.CaseView = await update_view(
        handle,
        c.UPDATE_NEGOTIATION,
        c.NegotiationInput(
            reason=c.DefaultReason.UNEMPLOYMENT,
            monthly_income=Decimal("4200.00"),
            essential_expenses=Decimal("3100.00"),
            result=c.NegotiationResult.INSTALLMENT_PLAN,
            plan=c.PlanTerms(count=count, frequency_days=frequency_days, first_due_in_days=7),
            actor=OPERATOR,
        ),
    )
    assert view.stage is Stage.FOLLOW_UP, view.stage
    return view


async def pay_plan(
    env: WorkflowEnvironment, handle: CaseHandle, view: c.CaseView, day: timedelta
) -> None:
    """Pay each installment the day before it is due (after its reminder), alternating the
    update and the signal.

    Time moves by sleeping to each date rather than by polling the ``state`` query: the case may
    continue as new right after a payment, and a query that meets that moment on the Java test
    server can leave its time-skipping lock held, so that no later sleep returns.
    """
    plan = view.plan
    assert plan is not None
    for inst in plan.installments:
        now = await env.get_current_time()
        target = inst.due_at - day
        if target > now:
            await env.sleep(target - now)
        payment = c.PaymentInput(
            payment_ref=f"P-{plan.plan_no}-{inst.index}",
            amount=inst.amount,
            paid_at=await env.get_current_time(),
            actor=SYSTEM,
        )
        if inst.index % 2:
            await update_view(handle, c.UPDATE_PAYMENT, payment)
        else:
            await handle.signal(c.SIGNAL_PAYMENT, payment)


async def scenario_full_lifecycle(
    env: WorkflowEnvironment,
    task_queue: str,
    messaging_queue: str,
    *,
    loan_id: str,
    installments: int = 3,
    frequency_days: int = 30,
    strategy: Strategy | None = None,
) -> CaseHandle:
    """Scenario 2: reminders, wait, visit met, an installment plan, all paid, resolved."""
    strategy = strategy or factories.default_strategy()
    started = await start_case(env, task_queue, messaging_queue, loan_id=loan_id, strategy=strategy)
    handle = latest(env, started)
    await through_visit(env, handle)
    view = await agree_plan(handle, installments, frequency_days)
    await pay_plan(env, handle, view, timedelta(seconds=strategy.day_seconds))
    result = await run_to_end(env, handle)
    assert result.stage is Stage.RESOLVED, result.stage
    return started


async def scenario_broken_to_legal(
    env: WorkflowEnvironment, task_queue: str, messaging_queue: str, *, loan_id: str
) -> CaseHandle:
    """Scenario 3: plan broken, renegotiated, broken again, escalated, legal approved."""
    started = await start_case(env, task_queue, messaging_queue, loan_id=loan_id)
    handle = latest(env, started)
    await through_visit(env, handle)
    await agree_plan(handle, 3)
    await advance_to_stage(env, handle, Stage.NEGOTIATING)
    await agree_plan(handle, 3)
    view = await advance_to_stage(env, handle, Stage.ESCALATED)
    assert view.broken_count == 2
    legal = c.EscalationInput(
        decision=c.EscalationDecision.LEGAL, notes="two plans broken", actor=SUPERVISOR
    )
    legal_min = factories.default_strategy().escalation.legal_min_dpd
    if view.days_past_due < legal_min:
        # Too early: the validator refuses, and a refused update leaves no trace in history.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await update_view(handle, c.UPDATE_ESCALATION, legal)
        assert "days past due" in str(refused.value.cause)
    await advance_until(env, handle, lambda v: v.days_past_due >= legal_min)
    await update_view(handle, c.UPDATE_ESCALATION, legal)
    result = await run_to_end(env, handle)
    assert result.stage is Stage.LEGAL, result.stage
    assert result.legal_reference
    return started


async def scenario_two_loans_one_borrower(
    env: WorkflowEnvironment, task_queue: str, messaging_queue: str, *, loan_id: str
) -> CaseHandle:
    """Caps per borrower: the borrower's other loan (due a day earlier) texts them at once; this
    loan's first SMS, due the next morning, waits a day after that one and says why; both paid.
    The stand-ins' ``borrower_contacts`` answers from the projections they synced."""
    now = await env.get_current_time()
    # In a zone where it is mid-afternoon: the first loan's SMS goes at once whatever the hour.
    borrower = factories.borrower(timezone=factories.open_window_zone(now))
    today = localtime.local_date(now, borrower.timezone)
    handles = []
    for lid, due in ((f"{loan_id}-OTHER", today - timedelta(days=1)), (loan_id, today)):
        inp = factories.case_input(
            messaging_queue=messaging_queue,
            the_borrower=borrower,
            the_loan=factories.loan(due=due, loan_id=lid),
        )
        started = await env.client.start_workflow(
            CollectionCase.run, inp, id=case_id_for(lid), task_queue=task_queue
        )
        handles.append(started)
        if not handles[1:]:  # the first loan's SMS is sent and synced before the second opens
            await advance_until(
                env,
                latest(env, started),
                lambda v: any(r.provider_sid for r in v.contact_log),
                step=timedelta(minutes=1),
                limit=timedelta(hours=1),
            )
    other, this = (latest(env, h) for h in handles)
    view = await advance_until(
        env, this, lambda v: any(r.provider_sid for r in v.contact_log), limit=timedelta(days=3)
    )
    reasons = [r.reason for r in view.contact_log if r.outcome is c.ContactOutcome.DEFERRED]
    assert any("on other loans" in why for why in reasons), reasons
    for n, handle in enumerate((other, this)):
        owed = (await state(handle)).balance
        paid_at = await env.get_current_time()
        payment = c.PaymentInput(
            payment_ref=f"P-caps-{n}", amount=owed, paid_at=paid_at, actor=SYSTEM
        )
        await update_view(handle, c.UPDATE_PAYMENT, payment)
    await run_to_end(env, other)
    result = await run_to_end(env, this)
    assert result.stage is Stage.RESOLVED, result.stage
    return handles[1]
