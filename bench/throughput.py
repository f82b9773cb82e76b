"""Throughput on one local dev server, in one run, against a bare Temporal baseline.

(a) bare Temporal: start N workflows of one activity each and wait for them to complete;
(b) start N cases through ``POST /v1/overdue-events`` (the API in-process over httpx's ASGI
    transport, a real worker with the real activities on SQLite and the Twilio sandbox);
(c) N payments through ``POST /v1/cases/{loan_id}/payments`` (each one workflow update).
Prints the rates and the ratios (b)/(a) and (c)/(a).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench import Figures, run_main
from bench.stack import SYSTEM_KEY, real_stack, wait_synced
from models.settings import Settings
from simulation.driver import venv_binary
from workflows.case import SEARCH_ATTRIBUTES


@activity.defn(name="bench_noop")
async def noop(n: int) -> int:
    return n


@workflow.defn(name="BenchTrivial", sandboxed=False)
class Trivial:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            noop, n, start_to_close_timeout=timedelta(seconds=30)
        )


async def baseline(client: Client, n: int) -> float:
    """Workflows of one activity, started and completed, per second."""
    async with Worker(client, task_queue="bench-trivial", workflows=[Trivial], activities=[noop]):
        started = time.perf_counter()
        handles = [
            await client.start_workflow(
                Trivial.run, i, id=f"bench-trivial-{i}", task_queue="bench-trivial"
            )
            for i in range(n)
        ]
        for handle in handles:
            await handle.result()
        return n / (time.perf_counter() - started)


def overdue_event(i: int, due: date) -> dict[str, object]:
    return {
        "loan_id": f"BENCH-{i:06d}",
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": due.isoformat(),
        "strategy": "default",
        "borrower": {
            "id": f"BB-{i:06d}",
            "name": "Bench Borrower",
            "phone": f"+86138{i:08d}",
            "timezone": "Asia/Shanghai",
            "locale": "zh-CN",
            "region": "bench",
            "consent": {"sms": True, "call": True},
        },
    }


async def measure(smoke: bool) -> Figures:
    n = 20 if smoke else 500
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    try:
        bare = await baseline(env.client, n)
        with tempfile.TemporaryDirectory(prefix="collectflow-bench-") as tmp:
            async with real_stack(env.client, Path(tmp), "bench-cases") as stack:

                async def client_factory(_: Settings) -> Client:
                    return env.client

                app = create_app(
                    stack.settings,
                    temporal_client_factory=client_factory,
                    database=stack.activities.db,
                )
                headers = {"Authorization": f"Bearer {SYSTEM_KEY}"}
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", headers=headers
                ) as http:
                    due = datetime.now(UTC).date()
                    started = time.perf_counter()
                    for i in range(n):
                        response = await http.post("/v1/overdue-events", json=overdue_event(i, due))
                        response.raise_for_status()
                    starts = n / (time.perf_counter() - started)
                    await wait_synced(stack, n, seconds=300)
                    started_and_synced = n / (time.perf_counter() - started)
                    started = time.perf_counter()
                    for i in range(n):
                        response = await http.post(
                            f"/v1/cases/BENCH-{i:06d}/payments",
                            json={
                                "payment_ref": f"BP-{i}",
                                "amount": "1.00",
                                "paid_at": datetime.now(UTC).isoformat(),
                            },
                        )
                        response.raise_for_status()
                    payments = n / (time.perf_counter() - started)
    finally:
        await env.shutdown()
    return {
        "n": n,
        "a_bare_workflows_per_second": round(bare, 1),
        "b_case_starts_per_second": round(starts, 1),
        "b_case_starts_synced_per_second": round(started_and_synced, 1),
        "c_payment_updates_per_second": round(payments, 1),
        "ratio_b_over_a": round(starts / bare, 3),
        "ratio_c_over_a": round(payments / bare, 3),
    }


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
