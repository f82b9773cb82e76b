"""Observability end to end: worker SDK metrics and workflow counters reach ``/metrics``;
``/healthz`` reports the sandbox in development."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.db import Database, upgrade_database
from api.app import create_app
from models.common import case_id_for
from models.settings import Settings
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.testing import serve
from tests import factories
from tests.stand_ins import StandIns, running_workers
from workers.telemetry import prometheus_runtime
from workflows.case import CollectionCase


def free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def test_metrics_show_sdk_and_case_counters_and_health_sees_sandbox(
    dev_env: WorkflowEnvironment, tmp_path: Path, task_queue: str, messaging_queue: str
) -> None:
    """A worker with the Prometheus runtime sends one reminder; the API's /metrics carries
    the SDK's metrics and the contact, stage and case counters; /healthz checks the sandbox."""
    address = free_address()
    target = dev_env.client.service_client.config.target_host
    worker_client = await Client.connect(
        target, data_converter=pydantic_data_converter, runtime=prometheus_runtime(address)
    )
    stand_ins = StandIns()
    inp = factories.case_input(
        strategy=factories.seconds_strategy(day_seconds=1),
        the_borrower=factories.borrower(timezone=factories.open_window_zone()),
        messaging_queue=messaging_queue,
    )
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade_database, db_url)
    database = Database(db_url)
    sandbox = create_sandbox_app(SandboxConfig(account_sid="AC" + "0" * 32, auth_token="t"))
    async with (
        running_workers(worker_client, task_queue, messaging_queue, stand_ins),
        serve(sandbox) as sandbox_url,
    ):
        handle = await worker_client.start_workflow(
            CollectionCase.run, inp, id=case_id_for(inp.loan.loan_id), task_queue=task_queue
        )
        for _ in range(100):
            if stand_ins.sent:
                break
            await asyncio.sleep(0.1)
        settings = Settings(
            env="development",
            worker_metrics_address=address,
            twilio_base_url=sandbox_url,
            database_url=db_url,
        )

        async def factory(_: Settings) -> Client:
            return dev_env.client

        app = create_app(settings, temporal_client_factory=factory, database=database)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api"
            ) as http,
        ):
            text = ""
            for _ in range(50):  # the core exports on an interval
                text = (await http.get("/metrics")).text
                if "collectflow_contacts" in text:
                    break
                await asyncio.sleep(0.2)
            health = (await http.get("/healthz")).json()
        await handle.terminate("test over")
    await database.dispose()
    assert "collectflow_contacts" in text and 'outcome="sent"' in text
    assert "collectflow_workflow_cases_opened" in text
    assert "temporal_workflow_task" in text or "temporal_request" in text
    assert "collectflow_http_requests" in text  # the API's own counters are there too
    assert health["sandbox"] == {"ok": True, "detail": ""}
