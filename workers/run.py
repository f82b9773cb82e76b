"""Run the worker process: the case worker and the rate-limited messaging worker, until stopped.

Migrations are not applied here (``collectflow db upgrade`` and ``collectflow dev`` do that), so
several workers can start at once without racing on the schema.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from activities.case_activities import CaseActivities
from activities.exactly_once import TIMEOUT_LOOK_UP_SECONDS
from activities.reconcile import sweep
from models.settings import Settings
from models.tables import utc_now
from workers.codec import keyring_for
from workers.digest_schedule import ensure_escalation_digest_schedule
from workers.schedules import ensure_overdue_scan_schedule
from workers.telemetry import prometheus_runtime
from workers.temporal import build_workers, connect

log = structlog.get_logger(__name__)


def _runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime serving worker metrics, or None (the default runtime) when the
    address is unset or taken: metrics are worth a warning, never a worker that won't start."""
    if not settings.worker_metrics_address:
        return None
    try:
        return prometheus_runtime(settings.worker_metrics_address)
    except Exception as exc:  # the core reports a bind failure as a generic error
        log.warning(
            "worker metrics disabled", address=settings.worker_metrics_address, error=str(exc)
        )
        return None


async def run_worker(
    settings: Settings, *, stop: asyncio.Event | None = None, client: Client | None = None
) -> None:
    """Ensure the ``overdue-scan`` schedule, poll both task queues until ``stop`` is set (or the
    task is cancelled), then shut the workers down and close the database and Twilio clients."""
    if client is None:
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            runtime=_runtime(settings),
            keyring=keyring_for(settings),
        )
    try:  # every deployment gets the daily scan; a refusal must not stop the cases' worker
        await ensure_overdue_scan_schedule(client, settings)
    except RPCError as exc:
        log.error("overdue-scan schedule not ensured", error=str(exc), status=exc.status.name)
    try:  # and the supervisors' daily digest of the escalation queue
        await ensure_escalation_digest_schedule(client, settings)
    except RPCError as exc:
        log.error("escalation-digest schedule not ensured", error=str(exc), status=exc.status.name)
    activities = await CaseActivities.from_settings(settings, temporal_client=client)
    try:
        case_worker, messaging_worker = build_workers(
            client,
            task_queue=settings.task_queue,
            messaging_task_queue=settings.messaging_task_queue,
            activities=activities.all(),
            messaging_rate_per_second=settings.messaging_rate_per_second,
            max_cached_workflows=settings.worker_max_cached_workflows,
        )
        async with case_worker, messaging_worker:
            log.info(
                "worker running",
                task_queue=settings.task_queue,
                messaging_task_queue=settings.messaging_task_queue,
                messaging_rate_per_second=settings.messaging_rate_per_second,
            )
            sweeper = asyncio.create_task(sweep_forever(activities, settings))
            try:
                await (stop or asyncio.Event()).wait()
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
        log.info("worker stopped")
    finally:
        await activities.aclose()


async def sweep_forever(activities: CaseActivities, settings: Settings) -> None:
    """Reconcile abandoned contact attempts against Twilio every
    ``contact_sweep_every_seconds``."""
    quiet = (
        settings.twilio_reconcile_settle_seconds
        + settings.twilio_timeout_seconds
        + TIMEOUT_LOOK_UP_SECONDS
        + 5.0
    )
    while True:
        await asyncio.sleep(settings.contact_sweep_every_seconds)
        try:
            activities.ledger.vault = activities.vault  # opens the sealed recipients
            tally = await sweep(
                activities.messenger,
                activities.ledger,
                utc_now(),
                settings.twilio_reconcile_settle_seconds,
                quiet,
            )
        except Exception as exc:  # Twilio or the database down: the next sweep tries again
            log.warning("contact reconciliation sweep failed", error=type(exc).__name__)
            continue
        if tally:
            log.info("contact attempts reconciled", **dict(tally))
