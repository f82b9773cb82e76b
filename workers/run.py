"""Run the worker process: the case worker and the rate-limited messaging worker, until stopped.

Migrations are not applied here (``collectflow db upgrade`` and ``collectflow dev`` do that), so
several workers can start at once without racing on the schema.
"""

from __future__ import annotations

import asyncio

import structlog
from temporalio.client import Client

from activities.case_activities import CaseActivities
from models.settings import Settings
from workers.temporal import build_workers, connect

log = structlog.get_logger(__name__)


async def run_worker(
    settings: Settings, *, stop: asyncio.Event | None = None, client: Client | None = None
) -> None:
    """Poll both task queues until ``stop`` is set (or the task is cancelled), then shut the
    workers down and close the database and Twilio clients."""
    if client is None:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
    activities = await CaseActivities.from_settings(settings, temporal_client=client)
    try:
        case_worker, messaging_worker = build_workers(
            client,
            task_queue=settings.task_queue,
            messaging_task_queue=settings.messaging_task_queue,
            activities=activities.all(),
            messaging_rate_per_second=settings.messaging_rate_per_second,
        )
        async with case_worker, messaging_worker:
            log.info(
                "worker running",
                task_queue=settings.task_queue,
                messaging_task_queue=settings.messaging_task_queue,
                messaging_rate_per_second=settings.messaging_rate_per_second,
            )
            await (stop or asyncio.Event()).wait()
        log.info("worker stopped")
    finally:
        await activities.aclose()
