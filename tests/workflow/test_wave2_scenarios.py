"""Wave-2 behaviours (DESIGN §2) on the time-skipping server, through the thin shell."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models import case as c
from models.common import Actor, Role, Stage
from models.strategy import load_strategy
from tests import factories
from tests.stand_ins import StandIns, running_workers
from tests.workflow.helpers import advance_to_stage, advance_until, state, update_view
from tests.workflow.test_scenarios import OPERATOR, SUPERVISOR, SYSTEM, after_slot, start, steps
from workflows import localtime

STRATEGIES = Path(__file__).parents[2] / "strategies"
BORROWER = Actor(id="borrower", role=Role.BORROWER)
NEW_PHONE = "+8613900139000"


def _sent(view: c.CaseView, step: str) -> bool:
    return any(r.purpose == step and r.outcome is c.ContactOutcome.SENT for r in view.contact_log)


async def _refusal(handle: object, name: str, arg: object) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update_view(handle, name, arg)  # type: ignore[arg-type]
    return str(getattr(refused.value.cause, "message", refused.value.cause))


def _plan(count: int = 3, every: int = 14, first: int = 7) -> c.NegotiationInput:
    return c.NegotiationInput(
        reason=c.DefaultReason.UNEMPLOYMENT,
        monthly_income=Decimal("4200"),
        essential_expenses=Decimal("3100"),
        result=c.NegotiationResult.INSTALLMENT_PLAN,
        plan=c.PlanTerms(count=count, frequency_days=every, first_due_in_days=first),
        actor=OPERATOR,
    )


@pytest.mark.parametrize("strategy", ["default", "segmented"])
async def test_plan_agreed_by_phone_at_d5_needs_no_visit(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str, strategy: str
) -> None:
    """A plan on a call at D+5: no visit. On the segmented strategy the scorecard's assessment
    at each stage boundary and after the negotiation is on the case's record."""
    stand_ins = StandIns()
    now = await time_env.get_current_time()
    chosen = load_strategy(strategy, STRATEGIES)
    inp = factories.case_input(messaging_queue=messaging_queue, now=now, strategy=chosen)
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-2"))  # D+5 SMS
        # 3 x 510 a fortnight is more than half of what is left each month: refused on both
        # strategies (the affordability rule is on by default, DESIGN §9); 6 x 255 fits
        refused = await _refusal(handle, c.UPDATE_NEGOTIATION, _plan())
        assert "disposable income" in refused
        count = 6
        view = await update_view(handle, c.UPDATE_NEGOTIATION, _plan(count=count))
        assert view.stage is Stage.FOLLOW_UP and view.plan is not None
        for inst in view.plan.installments:
            gap = inst.due_at - await time_env.get_current_time() - timedelta(hours=12)
            if gap > timedelta(0):
                await time_env.sleep(gap)
            pay = c.PaymentInput(
                payment_ref=f"P-{inst.index}", amount=inst.amount, paid_at=inst.due_at
            )
            await handle.signal(c.SIGNAL_PAYMENT, pay)
        result = await handle.result()
    assert result.stage is Stage.RESOLVED
    assert result.visits == []
    assert not [s for s in steps(stand_ins) if s.startswith("visit-")]
    assert result.plan is not None
    assert [i.status for i in result.plan.installments] == ["kept"] * count
    kinds = [e.kind.value for p in stand_ins.projections for e in p.events]
    assert ("assessment" in kinds) is (strategy == "segmented")


async def test_borrower_accepts_an_offered_slot(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        view = await advance_until(
            time_env, handle, lambda v: bool(v.visits) and v.visits[-1].proposal_sent
        )
        offered = view.visits[-1].offered
        assert len(offered) == 3
        proposal = next(s for s in stand_ins.sent if s.key.endswith("visit-1-proposal"))
        assert proposal.text  # the slots went to the borrower
        answer = c.VisitAnswerInput(answer="accept", slot=offered[1], actor=BORROWER)
        view = await update_view(handle, c.UPDATE_VISIT_ANSWER, answer)
        assert view.visits[-1].scheduled_at == offered[1]
        early = c.RecordVisitInput(outcome=c.VisitOutcome.MET, actor=OPERATOR)
        assert "no outcome may be recorded before it" in await _refusal(
            handle, c.UPDATE_RECORD_VISIT, early
        )
        await after_slot(time_env, view)
        view = await update_view(handle, c.UPDATE_RECORD_VISIT, early)
    assert view.stage is Stage.NEGOTIATING


async def test_logged_calls_count_toward_the_seven_in_seven_cap(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    cap = inp.strategy.compliance.max_call_attempts_7d
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-1"))  # D+3 call
        no_answer = c.ManualContactInput(outcome=c.ManualContactOutcome.NO_ANSWER, actor=OPERATOR)
        logged = 0
        while logged < cap - 1:  # the machine's call is the first attempt
            if logged and logged % 4 == 0:  # the daily cap on unanswered calls: the next day
                await time_env.sleep(timedelta(days=1))
            await update_view(handle, c.UPDATE_MANUAL_CONTACT, no_answer)
            logged += 1
            await time_env.sleep(timedelta(minutes=20))
        view = await state(handle)
        calls = [r for r in view.contact_log if r.channel.value == "call"]
        assert len(calls) == cap
        refused = await _refusal(handle, c.UPDATE_MANUAL_CONTACT, no_answer)
        assert "call" in refused and str(cap) in refused


async def test_hardship_during_follow_up_shifts_due_dates_and_breaks_nothing(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-0"))
        view = await update_view(handle, c.UPDATE_NEGOTIATION, _plan(count=6, first=5))
        assert view.plan is not None
        first_due = view.plan.installments[0].due_at
        pause = c.HardshipInput(days=10, reason="hospital stay", actor=OPERATOR)
        await update_view(handle, c.UPDATE_HARDSHIP, pause)
        # Past the first installment's original check: nothing may break while paused.
        await time_env.sleep(timedelta(days=12))
        view = await state(handle)
        assert view.plan is not None
        first = view.plan.installments[0]
        assert first.status == "pending" and view.broken_count == 0
        assert first.due_at >= first_due + timedelta(days=10)
        assert view.stage is Stage.FOLLOW_UP


async def test_operator_correction_waits_for_a_supervisor(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-0"))
        ask = c.ChangeRequestInput(
            kind="amount_correction",
            corrected_amount=Decimal("900.00"),
            reason="fee waived",
            actor=OPERATOR,
        )
        view = await update_view(handle, c.UPDATE_REQUEST_CHANGE, ask)
        assert view.amount_overdue == inp.loan.amount_overdue
        assert [r.status for r in view.requests] == ["pending"]
        refused = await _refusal(
            handle,
            c.UPDATE_DECIDE_REQUEST,
            c.DecideRequestInput(request_no=1, approve=True, actor=OPERATOR),
        )
        assert "operator" in refused
        decide = c.DecideRequestInput(request_no=1, approve=True, actor=SUPERVISOR)
        view = await update_view(handle, c.UPDATE_DECIDE_REQUEST, decide)
    assert view.amount_overdue == Decimal("900.00") and view.balance == Decimal("900.00")
    assert [r.status for r in view.requests] == ["approved"]


async def test_repeat_event_with_a_new_phone_sends_the_next_sms_there(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    now = await time_env.get_current_time()
    inp = factories.case_input(messaging_queue=messaging_queue, now=now)
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-0"))
        repeat = c.OverdueUpdateInput(
            currency=inp.loan.currency,
            amount_overdue=inp.loan.amount_overdue,
            as_of=await time_env.get_current_time(),
            phone=NEW_PHONE,
            actor=SYSTEM,
        )
        await update_view(handle, c.UPDATE_OVERDUE, repeat)
        wrong = repeat.model_copy(update={"currency": "USD"})
        assert "USD" in await _refusal(handle, c.UPDATE_OVERDUE, wrong)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-2"))
    first = next(s for s in stand_ins.sent if s.key.endswith("/reminder-0"))
    later = next(s for s in stand_ins.sent if s.key.endswith("/reminder-2"))
    assert first.to == inp.borrower.phone and later.to == NEW_PHONE


async def test_two_hundred_long_notes_leave_the_case_running_under_4_mib(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        for n in range(200):
            note = c.NoteInput(text=f"{n:03d} " + "长" * 3995, actor=OPERATOR)
            await handle.execute_update(c.UPDATE_NOTE, note, result_type=c.UpdateReceipt)
        view = await state(handle)
        history = await handle.fetch_history()
    assert not view.terminal
    assert len(view.notes) <= 50  # bounded; the rest went to the read model
    assert history.events[-1].event_type != 2  # still running (2: completed)
    size = sum(e.ByteSize() for e in history.events)  # what the server's limit counts
    assert size < 4 * 1024 * 1024, size
    assert size > 200 * 4000  # every note's text is in the history, once


async def test_a_reopened_loan_sends_its_first_reminder_again(
    time_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = StandIns()
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    async with running_workers(time_env.client, task_queue, messaging_queue, stand_ins):
        handle = await start(time_env, inp, task_queue)
        await advance_until(time_env, handle, lambda v: _sent(v, "reminder-0"))
        paid = c.PaymentInput(
            payment_ref="P-all",
            amount=inp.loan.amount_overdue,
            paid_at=await time_env.get_current_time(),
        )
        await handle.signal(c.SIGNAL_PAYMENT, paid)
        assert (await handle.result()).stage is Stage.RESOLVED
        # The loan falls overdue again: a later due date, today in the borrower's zone.
        today = localtime.local_date(await time_env.get_current_time(), inp.borrower.timezone)
        again = inp.model_copy(update={"generation": 2, "loan": factories.loan(due=today)})
        handle = await start(time_env, again, task_queue)
        view = await advance_to_stage(time_env, handle, Stage.REMINDING)
        view = await advance_until(time_env, handle, lambda v: _sent(v, "reminder-0"))
    assert view.generation == 2
    firsts = [s.key for s in stand_ins.sent if s.key.endswith("/reminder-0")]
    assert len(firsts) == 2 and firsts[0] != firsts[1]
