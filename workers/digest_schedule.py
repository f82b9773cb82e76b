"""``escalation-digest``: one ``EscalationDigest`` a day on the case task queue, at
``COLLECTFLOW_ESCALATION_DIGEST_HOUR`` o'clock UTC (0-23, default 1: 09:00 in China, before
supervisors plan their day). Ensured at worker start-up like ``overdue-scan`` (schedules.py):
created once, brought up to date, an operator's pause kept. A run that would overlap one still
running is skipped; one missed while Temporal was down is made up within a day.
"""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
)

from models import activities as act
from models.settings import Settings
from workers.schedules import CATCHUP_WINDOW, ensure_schedule, hour_from_env, overdue_scan_spec

DIGEST_SCHEDULE_ID = "escalation-digest"
# Each run's workflow id is this plus the scheduled time (Temporal appends it).
DIGEST_WORKFLOW_ID = "escalation-digest-run"
DIGEST_HOUR_ENV = "COLLECTFLOW_ESCALATION_DIGEST_HOUR"
DEFAULT_DIGEST_HOUR = 1


def digest_schedule(settings: Settings, hour: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            act.DIGEST_WORKFLOW, id=DIGEST_WORKFLOW_ID, task_queue=settings.task_queue
        ),
        spec=overdue_scan_spec(hour),  # the same daily spec, at this hour
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_escalation_digest_schedule(client: Client, settings: Settings) -> None:
    """Create the ``escalation-digest`` schedule, or update it to match; a no-op when it does."""
    hour = hour_from_env(DIGEST_HOUR_ENV, DEFAULT_DIGEST_HOUR)
    wanted = digest_schedule(settings, hour)
    await ensure_schedule(client, DIGEST_SCHEDULE_ID, wanted, hour, settings.task_queue)
