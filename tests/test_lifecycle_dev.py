"""Scenario 2 end to end on the real dev server: the worker runner, the real activities, a real
SQLite database and the Twilio sandbox. At the end the database says what the workflow says."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import SQLModel, col, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.db import Database, upgrade_database
from models import case as c
from models import tables as t
from models.common import Actor, Role, Stage, case_id_for
from models.settings import Settings
from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import WebhookRecorder, serve
from tests import factories
from tests.test_activities import FROM, SID, TOKEN, seed_case
from tests.workflow.helpers import update_view
from workers.run import run_worker
from workflows.case import CollectionCase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
    ),
]

OPERATOR = Actor(id="op-7", role=Role.OPERATOR)
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)
# Outcomes that leave a row in the contact ledger (deferred, blocked, skipped never reach it).
LEDGER_OUTCOMES = frozenset(
    {
        c.ContactOutcome.SENT,
        c.ContactOutcome.DELIVERED,
        c.ContactOutcome.UNDELIVERED,
        c.ContactOutcome.ANSWERED,
        c.ContactOutcome.UNANSWERED,
        c.ContactOutcome.REJECTED,
        c.ContactOutcome.UNKNOWN,
    }
)
Handle = WorkflowHandle[Any, Any]


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[str, str, httpx.AsyncClient]]:
    """The sandbox and a stand-in for the API's webhooks, both served in this loop."""
    hooks = WebhookRecorder()
    config = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
    async with (
        serve(create_sandbox_app(config)) as sandbox_url,
        serve(hooks.app) as hooks_url,
        httpx.AsyncClient(base_url=sandbox_url) as control,
    ):
        yield sandbox_url, hooks_url, control


async def wait_for(
    handle: Handle, reached: Callable[[c.CaseView], bool], within: float = 30.0
) -> c.CaseView:
    """Poll the ``state`` query until ``reached``; fail with the last state otherwise."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view: c.CaseView = await handle.query(c.QUERY_STATE, result_type=c.CaseView)
        if reached(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {within}s: {view.stage} {view.next_action}")
        await asyncio.sleep(0.1)


async def update(handle: Handle, name: str, arg: object) -> c.CaseView:
    view: c.CaseView = await update_view(handle, name, arg)
    return view


async def rows(db: Database, model: type[SQLModel], case_id: str) -> list[Any]:
    table: Any = model
    async with db.session() as session:
        found = await session.exec(
            select(model).where(table.case_id == case_id).order_by(col(table.id))
        )
        return list(found.all())


async def drive_scenario_2(handle: Handle) -> None:
    """Reminders and the wait run by themselves; then an operator confirms the visit at the
    proposed time with the two assigned collectors, meets the borrower, agrees a plan of 3,
    and the loan system reports each installment's payment after its reminder."""
    view = await wait_for(
        handle, lambda v: v.stage is Stage.VISIT and bool(v.visits) and v.visits[-1].proposal_sent
    )
    visit = view.visits[-1]
    assert len(visit.collectors) == 2, "the assignment activity found two collectors"
    at = visit.proposed_at
    if at <= datetime.now(UTC) + timedelta(seconds=0.3):  # a slow poll: keep it in the future
        at = datetime.now(UTC) + timedelta(seconds=2)
    await update(
        handle,
        c.UPDATE_SCHEDULE_VISIT,
        c.ScheduleVisitInput(at=at, collectors=visit.collectors, actor=OPERATOR),
    )
    await wait_for(handle, lambda v: v.visits[-1].reminder_sent)
    # No outcome may be recorded before the slot begins (DESIGN §2).
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.3)
    view = await update(
        handle,
        c.UPDATE_RECORD_VISIT,
        c.RecordVisitInput(outcome=c.VisitOutcome.MET, notes="lost job in May", actor=OPERATOR),
    )
    assert view.stage is Stage.NEGOTIATING
    view = await update(
        handle,
        c.UPDATE_NEGOTIATION,
        c.NegotiationInput(
            reason=c.DefaultReason.UNEMPLOYMENT,
            # every 2 days: half of 16,900 a month allows 563 an installment (510 here)
            monthly_income=Decimal("20000"),
            essential_expenses=Decimal("3100"),
            result=c.NegotiationResult.INSTALLMENT_PLAN,
            plan=c.PlanTerms(count=3, frequency_days=2, first_due_in_days=2),
            actor=OPERATOR,
        ),
    )
    assert view.stage is Stage.FOLLOW_UP and view.plan is not None
    for inst in view.plan.installments:
        await wait_for(handle, reminded(inst.index))
        await update(
            handle,
            c.UPDATE_PAYMENT,
            c.PaymentInput(
                payment_ref=f"P-{uuid.uuid4().hex[:8]}-{inst.index}",
                amount=inst.amount,
                paid_at=datetime.now(UTC),
                actor=SYSTEM,
            ),
        )


def reminded(index: int) -> Callable[[c.CaseView], bool]:
    def check(view: c.CaseView) -> bool:
        return view.plan is not None and view.plan.installments[index - 1].reminded

    return check


async def test_scenario_2_on_the_dev_server_leaves_the_database_matching_the_case(
    dev_env: WorkflowEnvironment,
    stack: tuple[str, str, httpx.AsyncClient],
    tmp_path: Path,
    task_queue: str,
    messaging_queue: str,
) -> None:
    """Scenario 2 with 1-second strategy days: resolved, and the case, contact-attempt, visit,
    installment and payment rows equal the workflow's ``state`` (search attributes on)."""
    sandbox_url, hooks_url, control = stack
    url = f"sqlite+aiosqlite:///{tmp_path / 'collectflow.db'}"
    await asyncio.to_thread(upgrade_database, url)  # the CLI's job; the runner does not migrate
    settings = Settings(
        env="development",
        database_url=url,
        task_queue=task_queue,
        messaging_task_queue=messaging_queue,
        # The sandbox is local; Settings has no "off", so a rate far above the test's needs.
        messaging_rate_per_second=1000.0,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_base_url=sandbox_url,
        twilio_from_number=FROM,
        public_base_url=hooks_url,
    )
    borrower = factories.borrower(
        timezone=factories.open_window_zone(), region=f"r-{uuid.uuid4().hex[:8]}"
    )
    inp = factories.case_input(
        strategy=factories.seconds_strategy(day_seconds=1),
        the_borrower=borrower,
        messaging_queue=messaging_queue,
        search_attributes=True,
    )
    db = Database(url)
    agents = await seed_case(db, inp, agents=2)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, client=dev_env.client))
    case_id = case_id_for(inp.loan.loan_id)
    try:
        handle: Handle = await dev_env.client.start_workflow(
            CollectionCase.run, inp, id=case_id, task_queue=task_queue
        )
        await drive_scenario_2(handle)
        result: c.CaseView = await asyncio.wait_for(handle.result(), timeout=30)
        view: c.CaseView = await handle.query(c.QUERY_STATE, result_type=c.CaseView)
        described = await handle.describe()
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=15)
    try:
        assert result.stage is Stage.RESOLVED and view.stage is Stage.RESOLVED
        assert [h.stage for h in view.stage_history] == [
            Stage.REMINDING,
            Stage.WAITING,
            Stage.VISIT,
            Stage.NEGOTIATING,
            Stage.FOLLOW_UP,
            Stage.RESOLVED,
        ]
        assert described.typed_search_attributes  # indexed as it went
        assert sorted(view.assigned_agents) == sorted(agents)
        await assert_database_matches(db, view, control)
    finally:
        await db.dispose()


async def assert_database_matches(
    db: Database, view: c.CaseView, control: httpx.AsyncClient
) -> None:
    case_id = view.case_id
    async with db.session() as session:
        case = await session.get(t.Case, case_id)
        loan = await session.get(t.Loan, view.loan_id)
    assert case is not None and loan is not None
    assert (case.stage, case.balance, case.amount_overdue, case.currency) == (
        view.stage,
        view.balance,
        view.amount_overdue,
        view.currency,
    )
    assert (case.strategy_id, case.strategy_version) == (view.strategy.id, view.strategy.version)
    assert case.assigned_agents == view.assigned_agents
    assert case.next_action_kind is None and view.next_action is None
    assert case.last_event_seq == view.event_seq
    assert loan.status is t.LoanStatus.PAID

    events = await rows(db, t.CaseEvent, case_id)
    assert [e.seq for e in events] == list(range(1, view.event_seq + 1))

    # The contact ledger: one row per key that reached the provider, as the case last saw it.
    expected = {r.key: r for r in view.contact_log if r.outcome in LEDGER_OUTCOMES}
    attempts = {a.idempotency_key: a for a in await rows(db, t.ContactAttempt, case_id)}
    assert attempts.keys() == expected.keys()
    for key, record in expected.items():
        row = attempts[key]
        assert (row.channel, row.provider_sid, row.status.value) == (
            record.channel,
            record.provider_sid,
            record.outcome.value,
        ), key
    sent = {r.provider_sid for r in expected.values() if r.outcome is c.ContactOutcome.SENT}
    box = (await control.get("/sandbox/outbox")).json()
    assert {m["sid"] for m in box["messages"] + box["calls"]} == sent
    assert {"reminder-0", "visit-1-proposal", "visit-1-reminder", "thank-you"} <= {
        r.purpose for r in expected.values()
    }

    visits = await rows(db, t.Visit, case_id)
    assert [
        (v.visit_no, v.proposed_at, v.scheduled_at, v.collectors, v.outcome, v.notes, v.recorded_by)
        for v in visits
    ] == [
        (
            v.visit_no,
            v.proposed_at,
            v.scheduled_at,
            v.collectors,
            v.outcome,
            v.notes,
            v.recorded_by.id if v.recorded_by else None,
        )
        for v in view.visits
    ]

    assert view.plan is not None
    installments = await rows(db, t.Installment, case_id)
    assert [(i.plan_no, i.index, i.due_date, i.amount, i.status.value) for i in installments] == [
        (view.plan.plan_no, i.index, i.due_date, i.amount, i.status) for i in view.plan.installments
    ]
    assert [i.paid_amount for i in installments] == [i.amount for i in view.plan.installments]
    assert sum(i.amount for i in installments) == view.amount_overdue

    payments = await rows(db, t.Payment, case_id)
    assert sorted((p.payment_ref, p.amount, p.paid_at) for p in payments) == sorted(
        (p.payment_ref, p.amount, p.paid_at) for p in view.payments
    )
    negotiations = await rows(db, t.Negotiation, case_id)
    assert [(n.seq, n.result_kind) for n in negotiations] == [
        (n.seq, n.result) for n in view.negotiations
    ]
