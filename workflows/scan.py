"""The scheduled workflows, each one activity by name on the case task queue, where it lives.

``OverdueScan``: one run of the overdue scan, as the daily schedule (``overdue-scan``) starts
it. The activity does the work (batched, heartbeating its position, starting ``case-{loan_id}``
idempotently), so a retried or repeated run starts no case twice.

``EscalationDigest``: the supervisors' digest of the escalation queue, one per tick of
``escalation-digest``; per case only the entry and deadline alerts remain (DESIGN §3).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models import activities as act

WORKFLOW_NAME = "OverdueScan"

# A big book takes a while (about a hundred starts a second); the heartbeat after every batch
# tells a stuck worker from a slow one, and a retry resumes after the last reported batch.
SCAN_START_TO_CLOSE = timedelta(hours=6)
SCAN_HEARTBEAT = timedelta(minutes=5)
# The whole run, retries included, ends well before the next day's run is due.
SCAN_SCHEDULE_TO_CLOSE = timedelta(hours=20)
SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)


@workflow.defn(name=WORKFLOW_NAME)
class OverdueScan:
    @workflow.run
    async def run(self, inp: act.ScanInput | None = None) -> act.ScanResult:
        """Scan with ``inp`` (default: batches of 200, as of the activity's own today)."""
        result: act.ScanResult = await workflow.execute_activity(
            act.SCAN_OVERDUE_LOANS,
            inp or act.ScanInput(),
            result_type=act.ScanResult,
            start_to_close_timeout=SCAN_START_TO_CLOSE,
            schedule_to_close_timeout=SCAN_SCHEDULE_TO_CLOSE,
            heartbeat_timeout=SCAN_HEARTBEAT,
            retry_policy=SCAN_RETRY,
        )
        return result


@workflow.defn(name=act.DIGEST_WORKFLOW)
class EscalationDigest:
    @workflow.run
    async def run(self, inp: act.DigestInput | None = None) -> act.EscalationDigest:
        """The queue as of this tick (the workflow's clock), read from the read model."""
        arg = (inp or act.DigestInput()).model_copy(update={"as_of": workflow.now()})
        digest: act.EscalationDigest = await workflow.execute_activity(
            act.ESCALATION_DIGEST,
            arg,
            result_type=act.EscalationDigest,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=SCAN_RETRY,
        )
        return digest
