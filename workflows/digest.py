"""``EscalationDigest``: the supervisors' digest of the escalation queue, one run per schedule
tick (``escalation-digest``); per case only the entry and deadline alerts (DESIGN §3)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import activities as act
    from workflows.scan import SCAN_RETRY


@workflow.defn(name=act.DIGEST_WORKFLOW)
class EscalationDigest:
    @workflow.run
    async def run(self, inp: act.DigestInput | None = None) -> act.EscalationDigest:
        arg = (inp or act.DigestInput()).model_copy(update={"as_of": workflow.now()})
        digest: act.EscalationDigest = await workflow.execute_activity(
            act.ESCALATION_DIGEST,
            arg,
            result_type=act.EscalationDigest,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=SCAN_RETRY,
        )
        return digest
