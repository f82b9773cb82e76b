"""Worker start-up: the client, the two task queues and their workers.

Case workflows and bookkeeping activities run on the case queue, and so do contacts: a case
sends as a local activity (one history event), paced per process (``activities/pace.py``:
Twilio long codes take about one message a second). The messaging queue, under Temporal's rate
limit at the same pace, still serves the sends of runs that began before contacts were local.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from models import activities as act
from workers.codec import Keyring, data_converter
from workers.runner import workflow_runner
from workflows.case import CollectionCase
from workflows.scan import EscalationDigest, OverdueScan

WORKFLOWS: Sequence[type] = (CollectionCase, OverdueScan, EscalationDigest)
MESSAGING_ACTIVITIES = frozenset({act.SEND_SMS, act.PLACE_CALL})
# A case spends nearly all its life asleep on a timer for days, so a cached (sticky) case is
# rarely reused before it is evicted; each cached run holds its own sandbox copy of the
# workflow module and its state. The SDK's default of 1,000 made worker memory the largest
# cost of idle cases (593 MB at 20,000). Bounding it keeps memory flat in the number of open
# cases; the price is that a task for an evicted case replays its current run first — measured
# in bench/throughput.py: 500 payments on 500 cases ran at 0.19x the bare update rate with 300
# cached, 0.79x with all 500 cached. 500 keeps a burst on that many cases sticky; raise it
# (COLLECTFLOW_WORKER_MAX_CACHED_WORKFLOWS) where memory allows.
MAX_CACHED_WORKFLOWS = 500


async def connect(
    address: str,
    namespace: str = "default",
    runtime: Runtime | None = None,
    *,
    keyring: Keyring | None = None,
) -> Client:
    """Every client uses the pydantic converter (Decimal and datetime must round-trip) and,
    given the keyring, the payload codec: what reaches Temporal is ciphertext."""
    return await Client.connect(
        address, namespace=namespace, data_converter=data_converter(keyring), runtime=runtime
    )


def activity_name(fn: Callable[..., Any]) -> str:
    defn = getattr(fn, "__temporal_activity_definition", None)
    return str(defn.name) if defn is not None else fn.__name__


def build_workers(
    client: Client,
    *,
    task_queue: str,
    messaging_task_queue: str,
    activities: Sequence[Callable[..., Any]],
    messaging_rate_per_second: float | None = None,
    max_cached_workflows: int = MAX_CACHED_WORKFLOWS,
) -> list[Worker]:
    """The case worker (workflows, bookkeeping, and contacts as local activities) and the
    rate-limited messaging worker, which serves the sends of runs started before contacts
    became local (``workflow.patched("local-contacts")``)."""
    messaging = [a for a in activities if activity_name(a) in MESSAGING_ACTIVITIES]
    executor = ThreadPoolExecutor(max_workers=8)
    case_worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=workflow_runner(),
        activities=list(activities),
        activity_executor=executor,
        max_cached_workflows=max_cached_workflows,
    )
    messaging_worker = Worker(
        client,
        task_queue=messaging_task_queue,
        activities=messaging,
        activity_executor=executor,
        max_task_queue_activities_per_second=messaging_rate_per_second,
        # Let in-flight sends finish on a deploy: a cancelled send would end up "unknown".
        graceful_shutdown_timeout=timedelta(seconds=15),
    )
    return [case_worker, messaging_worker]
