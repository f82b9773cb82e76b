"""The supervisors' escalation digest: the activity on the read model (SQLite, PostgreSQL), and
the ``escalation-digest`` schedule starting ``EscalationDigest`` on the real dev server."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.db import Database, upgrade_database
from activities.digest import escalation_digest
from activities.projection import sync_case
from models import activities as act
from models.case import NextAction
from models.common import SYSTEM_ACTOR, Stage
from models.settings import Settings
from tests import factories
from tests.test_activities import make_activities, make_settings, seed_case
from tests.test_borrower_contacts import T0, add_loan, projection
from workers import digest_schedule
from workers.runner import workflow_runner
from workflows.scan import EscalationDigest

WAIT_SECONDS = 30.0


def stage_event(seq: int, hours: float, stage: Stage, kind: str, **details: str) -> act.CaseEvent:
    return act.CaseEvent(
        seq=seq,
        at=T0 + timedelta(hours=hours),
        stage=stage,
        kind=act.CaseEventKind(kind),
        actor=SYSTEM_ACTOR,
        summary=kind,
        details=details,
    )


async def seed_queue(db: Database) -> dict[str, str]:
    """Four loans of one borrower: three escalated (one past its deadline alert), one not."""
    inp = factories.case_input()
    await seed_case(db, inp)
    names = {"first": inp.loan.loan_id}
    for name in ("later", "overdue", "reminding"):
        names[name] = f"L-{uuid.uuid4().hex[:8]}"
        await add_loan(db, names[name], inp.borrower.id)
    escalated = stage_event(1, 0, Stage.ESCALATED, "stage", target="escalated")
    for name, decide_in, events in (
        ("first", 48, [escalated]),
        ("later", 72, [escalated]),
        # past its deadline: the case re-aimed its wait at legal eligibility, far off
        (
            "overdue",
            24 * 30,
            [escalated, stage_event(2, 24, Stage.ESCALATED, "alert", alert="escalation_overdue")],
        ),
        ("reminding", 1, []),
    ):
        p = projection(names[name], inp.borrower.id, events)
        stage = Stage.REMINDING if name == "reminding" else Stage.ESCALATED
        decision = NextAction(kind="supervisor_decision", at=T0 + timedelta(hours=decide_in))
        await sync_case(db, p.model_copy(update={"stage": stage, "next_action": decision}))
    return names


async def test_the_digest_lists_the_queue_nearest_decide_by_first(database: Database) -> None:
    """Escalated cases only, the one past its deadline first and counted overdue."""
    names = await seed_queue(database)
    as_of = T0 + timedelta(hours=30)
    digest = await escalation_digest(database, act.DigestInput(as_of=as_of))
    assert (digest.as_of, digest.awaiting, digest.overdue) == (as_of, 3, 1)
    assert [(e.loan_id, e.decide_by, e.overdue) for e in digest.entries] == [
        (names["overdue"], T0 + timedelta(hours=24), True),
        (names["first"], T0 + timedelta(hours=48), False),
        (names["later"], T0 + timedelta(hours=72), False),
    ]
    short = await escalation_digest(database, act.DigestInput(as_of=as_of, limit=1))
    assert short.awaiting == 3 and [e.loan_id for e in short.entries] == [names["overdue"]]


@pytest_asyncio.fixture
async def schedule(dev_env: WorkflowEnvironment) -> AsyncIterator[ScheduleHandle]:
    handle = dev_env.client.get_schedule_handle(digest_schedule.DIGEST_SCHEDULE_ID)
    with contextlib.suppress(RPCError):
        await handle.delete()
    yield handle
    with contextlib.suppress(RPCError):
        await handle.delete()


@pytest.mark.integration
async def test_the_schedule_starts_one_digest_of_the_queue(
    dev_env: WorkflowEnvironment,
    schedule: ScheduleHandle,
    sqlite_url: str,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ensured twice (one schedule, daily at the hour asked), triggered once: the run returns
    the digest the real activity read from SQL."""
    monkeypatch.setenv(digest_schedule.DIGEST_HOUR_ENV, "2")
    await asyncio.to_thread(upgrade_database, sqlite_url)
    db = Database(sqlite_url)
    real = make_activities(db, make_settings("http://127.0.0.1:9", "https://example.com"))
    try:
        names = await seed_queue(db)
        settings = Settings(env="development", task_queue=task_queue)
        await digest_schedule.ensure_escalation_digest_schedule(dev_env.client, settings)
        await digest_schedule.ensure_escalation_digest_schedule(dev_env.client, settings)
        described = await schedule.describe()
        [calendar] = described.schedule.spec.calendars
        assert [(r.start, r.end) for r in calendar.hour] == [(2, 2)]
        assert described.info.last_updated_at is None  # the second call changed nothing
        worker = Worker(
            dev_env.client,
            task_queue=task_queue,
            workflows=[EscalationDigest],
            activities=[real.escalation_digest],
            workflow_runner=workflow_runner(),
        )
        async with worker:
            await schedule.trigger()
            digest = await _first_run(dev_env, schedule)
    finally:
        await real.aclose()
    # as of the run's own clock (the schedule's tick), not the test's T0
    assert digest.awaiting == 3 and digest.entries[0].overdue
    assert [e.loan_id for e in digest.entries] == [names["overdue"], names["first"], names["later"]]
    passed = [e.decide_by is not None and e.decide_by < digest.as_of for e in digest.entries]
    assert digest.overdue == sum(passed) and [e.overdue for e in digest.entries] == passed


async def _first_run(env: WorkflowEnvironment, handle: ScheduleHandle) -> act.EscalationDigest:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (recent := (await handle.describe()).info.recent_actions):
        assert time.monotonic() < deadline, "the schedule started no run"
        await asyncio.sleep(0.2)
    started = recent[0].action
    assert isinstance(started, ScheduleActionExecutionStartWorkflow)
    run = env.client.get_workflow_handle(
        started.workflow_id,
        run_id=started.first_execution_run_id,
        result_type=act.EscalationDigest,
    )
    digest: act.EscalationDigest = await asyncio.wait_for(run.result(), WAIT_SECONDS)
    return digest
