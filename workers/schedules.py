"""The Temporal Schedules CollectFlow relies on, created or brought up to date at worker start-up.

``overdue-scan`` starts one ``OverdueScan`` a day on the case task queue, at
``COLLECTFLOW_OVERDUE_SCAN_HOUR`` o'clock UTC (0-23, default 6). A run that would overlap a
previous one still running is skipped; a run missed while Temporal was down is made up if the
server is back within a day (the next day's run covers anything older: the scan is idempotent).

Idempotent: every worker calls :func:`ensure_overdue_scan_schedule` as it starts. The first
creates the schedule; the others find it and change it only when its time, workflow, task queue
or policy differ from what this code and these settings want. A pause set by an operator (and
its note) survives restarts: the schedule's state is never touched.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from models import activities as act
from models.settings import Settings
from workflows.scan import WORKFLOW_NAME, OverdueScan

log = structlog.get_logger(__name__)

OVERDUE_SCAN_SCHEDULE_ID = "overdue-scan"
# Each run's workflow id is this plus the scheduled time (Temporal appends it).
OVERDUE_SCAN_WORKFLOW_ID = "overdue-scan-run"
OVERDUE_SCAN_HOUR_ENV = "COLLECTFLOW_OVERDUE_SCAN_HOUR"
DEFAULT_OVERDUE_SCAN_HOUR = 6
OVERDUE_SCAN_TIME_ZONE = "UTC"
CATCHUP_WINDOW = timedelta(days=1)


def overdue_scan_hour() -> int:
    """The hour (UTC) of the daily scan, from ``COLLECTFLOW_OVERDUE_SCAN_HOUR``."""
    return hour_from_env(OVERDUE_SCAN_HOUR_ENV, DEFAULT_OVERDUE_SCAN_HOUR)


def hour_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        hour = int(raw)
    except ValueError:
        hour = -1
    if not 0 <= hour <= 23:
        raise ValueError(f"{name} must be an hour from 0 to 23, not {raw!r}")
    return hour


def overdue_scan_spec(hour: int) -> ScheduleSpec:
    """Every day at ``hour``:00:00 UTC, written out as the server describes it back (every
    field filled in), so a description can be compared with it as it is."""
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=(ScheduleRange(0),),
                minute=(ScheduleRange(0),),
                hour=(ScheduleRange(hour),),
                day_of_month=(ScheduleRange(1, 31),),
                month=(ScheduleRange(1, 12),),
                year=(),
                day_of_week=(ScheduleRange(0, 6),),
            )
        ],
        time_zone_name=OVERDUE_SCAN_TIME_ZONE,
    )


def overdue_scan_schedule(settings: Settings, hour: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_NAME,
            id=OVERDUE_SCAN_WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=overdue_scan_spec(hour),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_overdue_scan_schedule(client: Client, settings: Settings) -> None:
    """Create the ``overdue-scan`` schedule, or update it to match; a no-op when it does."""
    hour = overdue_scan_hour()
    wanted = overdue_scan_schedule(settings, hour)
    await ensure_schedule(client, OVERDUE_SCAN_SCHEDULE_ID, wanted, hour, settings.task_queue)


async def ensure_schedule(
    client: Client, schedule_id: str, wanted: Schedule, hour: int, task_queue: str
) -> None:
    """Create the schedule, or update its action, spec and policy to ``wanted``; keep its state."""
    try:
        await client.create_schedule(schedule_id, wanted)
    except ScheduleAlreadyRunningError:
        pass
    else:
        log.info("schedule created", schedule_id=schedule_id, hour_utc=hour, task_queue=task_queue)
        return
    changed: list[bool] = []

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        have = current.description.schedule
        if _same(have, wanted):
            return None
        changed.append(True)
        # The state (paused, note, remaining actions) is the operators': keep it.
        return ScheduleUpdate(
            schedule=replace(have, action=wanted.action, spec=wanted.spec, policy=wanted.policy)
        )

    await client.get_schedule_handle(schedule_id).update(update)
    log.info(
        "schedule updated" if changed else "schedule up to date",
        schedule_id=schedule_id,
        hour_utc=hour,
        task_queue=task_queue,
    )


class ScanStillRunning(Exception):
    """A scan started by :func:`run_overdue_scan` had not finished when the wait ran out."""

    def __init__(self, workflow_id: str, task_queue: str, waited: float) -> None:
        super().__init__(
            f"the scan {workflow_id} has not finished after {waited:g} s and goes on; "
            f"is a worker polling the task queue {task_queue}?"
        )
        self.workflow_id = workflow_id


async def run_overdue_scan(
    client: Client, settings: Settings, *, wait_seconds: float = 600.0
) -> act.ScanResult:
    """One scan now, outside the schedule (after an import): start it and wait for its result.

    Its own workflow id, so it neither waits on nor is skipped for a scheduled run; both may
    run at once, since starting a case is idempotent.
    """
    workflow_id = f"overdue-scan-now-{uuid.uuid4().hex[:12]}"
    handle = await client.start_workflow(
        OverdueScan.run, act.ScanInput(), id=workflow_id, task_queue=settings.task_queue
    )
    try:
        return await asyncio.wait_for(handle.result(), timeout=wait_seconds)
    except TimeoutError as exc:
        raise ScanStillRunning(workflow_id, settings.task_queue, wait_seconds) from exc


def _same(have: Schedule, wanted: Schedule) -> bool:
    # Descriptions come back with every default filled in; ``wanted`` is written out the same
    # way. Should a server describe it differently, the only cost is a needless update.
    return (have.action, have.spec, have.policy) == (wanted.action, wanted.spec, wanted.policy)
