"""The daily ``overdue-scan`` schedule on the real dev server (issue 4, test 6).

The schedule id is fixed, so each test deletes it before and after; the dev server is shared
by the session, and a worker started by another test may have created it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.db import Database, upgrade_database
from activities.loan_import import import_loans, read_rows
from models import activities as act
from models.common import case_id_for
from models.settings import Settings
from tests.scan_helpers import good_row, scan_worker, terminate_cases, write_csv
from workers import schedules
from workers.run import run_worker

pytestmark = pytest.mark.integration

WAIT_SECONDS = 30.0


@pytest_asyncio.fixture
async def schedule(dev_env: WorkflowEnvironment) -> AsyncIterator[ScheduleHandle]:
    handle = dev_env.client.get_schedule_handle(schedules.OVERDUE_SCAN_SCHEDULE_ID)
    await _delete(handle)
    yield handle
    await _delete(handle)


async def _delete(handle: ScheduleHandle) -> None:
    with contextlib.suppress(RPCError):  # not there
        await handle.delete()


async def _listed(client: Client) -> list[str]:
    """Ids of the listed schedules named overdue-scan, once the list has caught up."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        ids = [s.id async for s in await client.list_schedules()]
        found = [i for i in ids if i == schedules.OVERDUE_SCAN_SCHEDULE_ID]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_ensure_creates_the_schedule_once_and_keeps_its_spec(
    dev_env: WorkflowEnvironment,
    schedule: ScheduleHandle,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(schedules.OVERDUE_SCAN_HOUR_ENV, raising=False)
    settings = Settings(env="development", task_queue=task_queue)

    await schedules.ensure_overdue_scan_schedule(dev_env.client, settings)
    first = (await schedule.describe()).schedule
    await schedules.ensure_overdue_scan_schedule(dev_env.client, settings)
    second = await schedule.describe()

    assert await _listed(dev_env.client) == [schedules.OVERDUE_SCAN_SCHEDULE_ID]
    assert second.schedule.spec == first.spec == schedules.overdue_scan_spec(6)
    [calendar] = second.schedule.spec.calendars
    assert [(r.start, r.end) for r in calendar.hour] == [(6, 6)]
    assert second.schedule.spec.time_zone_name == "UTC"
    assert second.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    action = second.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("OverdueScan", task_queue)
    assert second.info.created_at is not None
    assert second.info.last_updated_at is None  # the second call changed nothing


async def test_ensure_updates_time_and_queue_but_keeps_a_pause(
    dev_env: WorkflowEnvironment,
    schedule: ScheduleHandle,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(schedules.OVERDUE_SCAN_HOUR_ENV, raising=False)
    await schedules.ensure_overdue_scan_schedule(
        dev_env.client, Settings(env="development", task_queue="old-queue")
    )
    await schedule.pause(note="month-end freeze")
    monkeypatch.setenv(schedules.OVERDUE_SCAN_HOUR_ENV, "9")

    await schedules.ensure_overdue_scan_schedule(
        dev_env.client, Settings(env="development", task_queue=task_queue)
    )

    described = (await schedule.describe()).schedule
    assert described.spec == schedules.overdue_scan_spec(9)
    assert isinstance(described.action, ScheduleActionStartWorkflow)
    assert described.action.task_queue == task_queue
    assert (described.state.paused, described.state.note) == (True, "month-end freeze")


def test_a_bad_hour_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(schedules.OVERDUE_SCAN_HOUR_ENV, "24")
    with pytest.raises(ValueError, match="COLLECTFLOW_OVERDUE_SCAN_HOUR"):
        schedules.overdue_scan_hour()


async def test_triggering_twice_starts_each_past_due_case_exactly_once(
    dev_env: WorkflowEnvironment,
    schedule: ScheduleHandle,
    sqlite_url: str,
    tmp_path: Path,
    task_queue: str,
    messaging_queue: str,
) -> None:
    """Issue 4, test 6: two runs of the schedule; three past-due loans get one case each, the
    loan due today none. ``messaging_queue`` stands for the case queue: nothing polls it."""
    client = dev_env.client
    await asyncio.to_thread(upgrade_database, sqlite_url)
    past_due = [good_row() for _ in range(3)]
    due_today = good_row(due_date=datetime.now(UTC).date().isoformat())
    db = Database(sqlite_url)
    try:
        rows = read_rows(write_csv(tmp_path / "loans.csv", [*past_due, due_today]))
        assert (await import_loans(db, rows, Settings(env="development"))).inserted == 4
    finally:
        await db.dispose()
    await schedules.ensure_overdue_scan_schedule(
        client, Settings(env="development", task_queue=task_queue)
    )
    loan_ids = [row["loan_id"] for row in past_due]
    try:
        async with scan_worker(client, sqlite_url, task_queue, messaging_queue):
            first = await _trigger_and_wait(client, schedule, runs=1)
            second = await _trigger_and_wait(client, schedule, runs=2)
        assert first == act.ScanResult(examined=3, started=3, already_open=0)
        assert second == act.ScanResult(examined=3, started=0, already_open=3)
        for loan_id in loan_ids:
            described = await client.get_workflow_handle(case_id_for(loan_id)).describe()
            assert (described.workflow_type, described.task_queue) == (
                "CollectionCase",
                messaging_queue,
            )
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(case_id_for(due_today["loan_id"])).describe()
        assert missing.value.status is RPCStatusCode.NOT_FOUND
    finally:
        await terminate_cases(client, [*loan_ids, due_today["loan_id"]])


async def _trigger_and_wait(client: Client, handle: ScheduleHandle, runs: int) -> act.ScanResult:
    """Trigger the schedule and wait for the run it starts (the ``runs``-th); its result."""
    await _until_idle(handle)  # SKIP would drop a trigger while the last run still counts
    await handle.trigger()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        recent = (await handle.describe()).info.recent_actions
        if len(recent) >= runs:
            break
        assert time.monotonic() < deadline, f"the schedule started {len(recent)} runs"
        await asyncio.sleep(0.2)
    started = recent[runs - 1].action
    assert isinstance(started, ScheduleActionExecutionStartWorkflow)
    run = client.get_workflow_handle(
        started.workflow_id, run_id=started.first_execution_run_id, result_type=act.ScanResult
    )
    result: act.ScanResult = await asyncio.wait_for(run.result(), WAIT_SECONDS)
    return result


async def _until_idle(handle: ScheduleHandle) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (await handle.describe()).info.running_actions:
        assert time.monotonic() < deadline, "the schedule's last run never ended"
        await asyncio.sleep(0.2)


async def test_the_worker_ensures_the_schedule_at_start_up(
    dev_env: WorkflowEnvironment,
    schedule: ScheduleHandle,
    sqlite_url: str,
    task_queue: str,
    messaging_queue: str,
) -> None:
    settings = Settings(
        env="development",
        database_url=sqlite_url,
        task_queue=task_queue,
        messaging_task_queue=messaging_queue,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, client=dev_env.client))
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with contextlib.suppress(RPCError):
                action = (await schedule.describe()).schedule.action
                assert isinstance(action, ScheduleActionStartWorkflow)
                if action.task_queue == task_queue:
                    break
            assert time.monotonic() < deadline and not worker.done(), "no schedule"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=15)
