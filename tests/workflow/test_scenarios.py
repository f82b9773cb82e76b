"""The case workflow's scenarios on the time-skipping server with stand-in activities."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import partial

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import case as c
from models.common import Actor, Role, Stage, case_id_for
from tests import factories
from tests.stand_ins import StandIns, running_workers
from tests.workflow.helpers import advance_to_stage, advance_until, state, update_view
from workflows import localtime
from workflows.case import CollectionCase

OPERATOR = Actor(id="op-1", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sup-1", role=Role.SUPERVISOR)
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)

Handle = WorkflowHandle[CollectionCase, c.CaseView]


async def start(env: WorkflowEnvironment, inp: c.CaseInput, task_queue: str) -> Handle:
    return await env.client.start_workflow(
        CollectionCase.run, inp, id=case_id_for(inp.loan.loan_id), task_queue=task_queue
    )


async def pay(handle: Handle, ref: str, amount: Decimal) -> c.CaseView:
    view = await state(handle)
    paid_at = view.stage_history[-1].at
    result: c.CaseView = await update_view(
        handle,
        c.UPDATE_PAYMENT,
        c.PaymentInput(payment_ref=ref, amount=amount, paid_at=paid_at, actor=SYSTEM),
    )
    return result


async def update(handle: Handle, name: str, arg: object) -> c.CaseView:
    result: c.CaseView = await update_view(handle, name, arg)
    return result


def steps(stand_ins: StandIns) -> list[str]:
    return [s.key.rsplit("/", 1)[1] for s in stand_ins.sent]


async def after_slot(env: WorkflowEnvironment, view: c.CaseView) -> None:
    """No outcome may be recorded before the visit's slot (DESIGN §2): go past it."""
    slot = view.visits[-1].scheduled_at
    assert slot is not None
    now = await env.get_current_time()
    if slot > now:
        await env.sleep(slot - now + timedelta(minutes=30))


async def visit_and_meet(env: WorkflowEnvironment, handle: Handle) -> c.CaseView:
    """Advance to the visit, confirm the proposed slot with two collectors, record 'met'."""
    view = await advance_until(
        env,
        handle,
        lambda v: v.stage is Stage.VISIT and bool(v.visits) and v.visits[-1].proposal_sent,
    )
    visit = view.visits[-1]
    await update(
        handle,
        c.UPDATE_SCHEDULE_VISIT,
        c.ScheduleVisitInput(at=visit.proposed_at, collectors=["A-1", "A-2"], actor=OPERATOR),
    )
    booked = await advance_until(env, handle, lambda v: v.visits[-1].reminder_sent)
    await after_slot(env, booked)
    return await update(
        handle,
        c.UPDATE_RECORD_VISIT,
        c.RecordVisitInput(outcome=c.VisitOutcome.MET, notes="lost job in May", actor=OPERATOR),
    )


async def agree_plan(handle: Handle, count: int, every: int = 14) -> c.CaseView:
    return await update(
        handle,
        c.UPDATE_NEGOTIATION,
        c.NegotiationInput(
            reason=c.DefaultReason.UNEMPLOYMENT,
            # 3,900 a month left: half of it covers 910 a fortnight (the affordability rule)
            monthly_income=Decimal("7000"),
            essential_expenses=Decimal("3100"),
            result=c.NegotiationResult.INSTALLMENT_PLAN,
            plan=c.PlanTerms(count=count, frequency_days=every, first_due_in_days=7),
            actor=OPERATOR,
        ),
    )


async def test_paid_after_first_sms_resolves_without_further_contact(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 1: a payment in full after the first SMS resolves; only a thank-you follows."""
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: len(v.contact_log) >= 1)
        assert steps(stand_ins) == ["reminder-0"]
        view = await pay(handle, "P-1", inp.loan.amount_overdue)
        assert view.stage is Stage.RESOLVED
        result = await handle.result()
        await time_env.sleep(timedelta(days=30))
    assert result.stage is Stage.RESOLVED
    assert result.balance == Decimal("0")
    assert steps(stand_ins) == ["reminder-0", "thank-you"]


async def test_full_lifecycle_reminders_visit_plan_resolved(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 2: every reminder at its local hour, wait, visit, a plan of 3, all paid."""
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    tz = inp.borrower.timezone
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_to_stage(time_env, handle, Stage.WAITING)
        reminders = [s for s in stand_ins.sent if "/reminder-" in s.key]
        expected = [(r.day, r.channel.value, r.at) for r in inp.strategy.reminders]
        assert [(s.channel) for s in reminders] == [e[1] for e in expected]
        for message, (day, _, at) in zip(reminders, expected, strict=True):
            assert at is not None
            local = localtime.to_local(message.at, tz)
            assert (local.date() - inp.loan.due_date).days == day
            assert (local.hour, local.minute) == (at.hour, at.minute)
            assert (
                inp.strategy.compliance.window_start
                <= local.time()
                < inp.strategy.compliance.window_end
            )
        assert "王芳" in reminders[0].text and "回复TD退订" in reminders[0].text
        view = await visit_and_meet(time_env, handle)
        assert view.stage is Stage.NEGOTIATING
        view = await agree_plan(handle, 3)
        assert view.stage is Stage.FOLLOW_UP
        assert view.plan is not None
        amounts = [i.amount for i in view.plan.installments]
        assert sum(amounts) == inp.loan.amount_overdue
        for inst in view.plan.installments:
            await advance_until(time_env, handle, partial(_reminded, index=inst.index))
            view = await pay(handle, f"P-{inst.index}", inst.amount)
        assert view.stage is Stage.RESOLVED
        result = await handle.result()
    assert result.balance == Decimal("0")
    assert result.plan is not None
    # The last payment resolves the case before the last installment's check comes round:
    # paid in full keeps every installment.
    assert [i.status for i in result.plan.installments] == ["kept", "kept", "kept"]
    sent = steps(stand_ins)
    assert sent[:5] == [f"reminder-{i}" for i in range(5)]
    assert "visit-1-proposal" in sent and "visit-1-reminder" in sent
    assert "plan-1-installment-1-reminder" in sent
    assert sent[-1] == "thank-you"
    stages = [h.stage for h in result.stage_history]
    assert stages == [
        Stage.REMINDING,
        Stage.WAITING,
        Stage.VISIT,
        Stage.NEGOTIATING,
        Stage.FOLLOW_UP,
        Stage.RESOLVED,
    ]


def _reminded(view: c.CaseView, index: int) -> bool:
    """The installment's reminder went out (it may first wait for the SMS caps)."""
    step = f"plan-1-installment-{index}-reminder"
    return any(r.purpose == step and r.outcome is c.ContactOutcome.SENT for r in view.contact_log)


async def test_broken_twice_escalates_then_legal(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    """Scenario 3: plan broken once -> renegotiated -> broken again -> escalated -> legal."""
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await visit_and_meet(time_env, handle)
        await agree_plan(handle, 3)
        view = await advance_to_stage(time_env, handle, Stage.NEGOTIATING)
        assert view.broken_count == 1
        await agree_plan(handle, 2)
        view = await advance_to_stage(time_env, handle, Stage.ESCALATED)
        assert view.broken_count == 2
        assert any(a.kind == "escalation_decision" for a in stand_ins.alerts)
        legal = c.EscalationInput(decision=c.EscalationDecision.LEGAL, actor=SUPERVISOR)
        if view.days_past_due < inp.strategy.escalation.legal_min_dpd:
            refused = await _refusal(handle, c.UPDATE_ESCALATION, legal)
            assert "at least 60 days past due" in refused
            await advance_until(
                time_env, handle, lambda v: v.days_past_due >= 60, step=timedelta(days=1)
            )
        view = await update(handle, c.UPDATE_ESCALATION, legal)
        assert view.stage is Stage.LEGAL
        result = await handle.result()
    assert result.legal_reference == f"LEGAL-{inp.loan and case_id_for(inp.loan.loan_id)}"
    assert len(stand_ins.legal) == 1
    assert stand_ins.legal[0].approved_by == SUPERVISOR


async def _refusal(handle: Handle, name: str, arg: object) -> str:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.exceptions import ApplicationError

    try:
        await update_view(handle, name, arg)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        return cause.message if isinstance(cause, ApplicationError) else str(cause)
    raise AssertionError(f"update {name} was accepted")
