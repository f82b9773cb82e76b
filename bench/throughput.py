"""Throughput, like for like: CollectFlow's routes against bare routes on the same path.

One run, one local dev server, one app, the same concurrency for every phase:
(a) ``POST /bench/overdue-events`` — same auth, same body validation, starts a workflow that
    waits on one timer with an input of the same type and size as a case's (``bench/bare.py``);
(b) ``POST /v1/overdue-events`` — starts real cases on the real worker (SQLite, Twilio sandbox);
    both (a) and (b) count a start only once its first workflow task has completed, as seen in
    the workflow's history;
(c) ``POST /bench/ledgers/{id}/payments`` — a trivial workflow's update that appends to a list,
    then one query;
(d) ``POST /v1/cases/{loan_id}/payments`` — a payment on a real case.
Prints the four rates and the ratios b/a and d/c.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench import Figures, run_main
from bench.bare import bare_router, start_ledgers
from bench.bare_workflows import BenchLedger, BenchTimer
from bench.stack import SYSTEM_KEY, real_stack, wait_synced
from models.search_attributes import SEARCH_ATTRIBUTES
from models.settings import Settings
from simulation.driver import venv_binary
from workers.converter import DATA_CONVERTER
from workers.runner import workflow_runner
from workers.temporal import MAX_CACHED_WORKFLOWS

CONCURRENCY = 16
BARE_QUEUE = "bench-bare"


def overdue_event(loan_id: str, i: int, due: date) -> dict[str, object]:
    return {
        "loan_id": loan_id,
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": due.isoformat(),
        "strategy": "default",
        "borrower": {
            "id": f"BB-{loan_id}",
            "name": "Bench Borrower",
            "phone": f"+86138{i:08d}",
            "timezone": "Asia/Shanghai",
            "locale": "zh-CN",
            "region": "bench",
            "consent": {"sms": True, "call": True},
        },
    }


def payment(i: int) -> dict[str, str]:
    return {"payment_ref": f"BP-{i}", "amount": "1.00", "paid_at": datetime.now(UTC).isoformat()}


async def concurrently(n: int, request: Callable[[int], Awaitable[httpx.Response]]) -> None:
    """``n`` requests, at most ``CONCURRENCY`` in flight; any answer but 2xx stops the run."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            response = await request(i)
            response.raise_for_status()

    await asyncio.gather(*(one(i) for i in range(n)))


async def first_task_done(client: Client, workflow_id: str) -> datetime:
    """When the workflow's first workflow task completed (server time, from its history)."""
    while True:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                return event.event_time.ToDatetime(tzinfo=UTC)
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Rate:
    """A phase's rate, and the CPU this process (API, workers, bench client) spent per item:
    the one process holds everything but the Temporal server, so on a loaded machine the
    ratio of CPU per item is what bounds the ratio of rates."""

    per_second: float
    cpu_ms_per_item: float


async def starts_per_second(
    http: httpx.AsyncClient, client: Client, route: str, ids: list[str], workflow_id: str
) -> Rate:
    """Starts through ``route`` until each first workflow task has completed, per second."""
    due = datetime.now(UTC).date()
    began, cpu = datetime.now(UTC), time.process_time()
    await concurrently(len(ids), lambda i: http.post(route, json=overdue_event(ids[i], i, due)))
    done = [await first_task_done(client, workflow_id.format(loan_id=i)) for i in ids]
    cpu = time.process_time() - cpu  # includes the history polls, alike for both routes
    return Rate(len(ids) / (max(done) - began).total_seconds(), 1000 * cpu / len(ids))


async def updates_per_second(http: httpx.AsyncClient, route: str, ids: list[str]) -> Rate:
    began, cpu = time.perf_counter(), time.process_time()
    await concurrently(len(ids), lambda i: http.post(route.format(ids[i]), json=payment(i)))
    cpu = time.process_time() - cpu
    return Rate(len(ids) / (time.perf_counter() - began), 1000 * cpu / len(ids))


async def measure(smoke: bool) -> Figures:
    n = 20 if smoke else 500
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    bare_worker = Worker(
        env.client,
        task_queue=BARE_QUEUE,
        workflows=[BenchTimer, BenchLedger],
        workflow_runner=workflow_runner(),
        max_cached_workflows=MAX_CACHED_WORKFLOWS,  # as the case worker's
    )
    bare_ids = [f"BARE-{i:06d}" for i in range(n)]
    case_ids = [f"CASE-{i:06d}" for i in range(n)]
    try:
        with tempfile.TemporaryDirectory(prefix="collectflow-bench-") as tmp:
            async with real_stack(env.client, Path(tmp), "bench-cases") as stack, bare_worker:

                async def client_factory(_: Settings) -> Client:
                    return env.client

                app = create_app(
                    stack.settings,
                    temporal_client_factory=client_factory,
                    database=stack.activities.db,
                )
                app.include_router(bare_router(BARE_QUEUE))
                headers = {"Authorization": f"Bearer {SYSTEM_KEY}"}
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", headers=headers, timeout=60
                ) as http:
                    bare_start = await starts_per_second(
                        http, env.client, "/bench/overdue-events", bare_ids, "bare-case-{loan_id}"
                    )
                    case_start = await starts_per_second(
                        http, env.client, "/v1/overdue-events", case_ids, "case-{loan_id}"
                    )
                    await wait_synced(stack, n, seconds=300)
                    await start_ledgers(env.client, BARE_QUEUE, bare_ids)
                    bare_update = await updates_per_second(
                        http, "/bench/ledgers/{}/payments", bare_ids
                    )
                    case_update = await updates_per_second(http, "/v1/cases/{}/payments", case_ids)
    finally:
        await env.shutdown()
    return {
        "n": n,
        "concurrency": CONCURRENCY,
        "max_cached_workflows": MAX_CACHED_WORKFLOWS,
        "a_bare_http_starts_per_second": round(bare_start.per_second, 1),
        "b_case_starts_per_second": round(case_start.per_second, 1),
        "c_bare_http_updates_per_second": round(bare_update.per_second, 1),
        "d_payment_updates_per_second": round(case_update.per_second, 1),
        "ratio_b_over_a": round(case_start.per_second / bare_start.per_second, 3),
        "ratio_d_over_c": round(case_update.per_second / bare_update.per_second, 3),
        "a_cpu_ms_per_bare_start": round(bare_start.cpu_ms_per_item, 2),
        "b_cpu_ms_per_case_start": round(case_start.cpu_ms_per_item, 2),
        "c_cpu_ms_per_bare_update": round(bare_update.cpu_ms_per_item, 2),
        "d_cpu_ms_per_payment": round(case_update.cpu_ms_per_item, 2),
    }


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
