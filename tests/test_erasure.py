"""Issue 16: after ``collectflow borrowers erase ID`` no history, table, log or export yields
the person's name, phone or address; every history still replays; the timeline keeps its
stages, amounts, decisions and actors.

One real case on the dev server: the API (with its database), the real worker runner and
activities, the Twilio sandbox. The borrower gets an SMS with their name, an operator writes a
note naming them, the borrower texts back (found by phone, no case id), then pays in full.
Then the erasure, the CLI export, and the searches. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlmodel import SQLModel, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from activities.db import Database, upgrade_database
from activities.vault import files
from activities.vault.store import Vault
from api.app import create_app
from audit.replay import replay_histories
from audit.timeline import build_timeline, fetch_case_histories
from cli.main import app as cli_app
from models.settings import Settings, get_settings, hash_api_key
from models.vault_tables import Erasure
from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import WebhookRecorder, serve
from tests import factories
from tests.api.conftest import KEYS, signing_key, strategies
from tests.conftest import TEST_KEYRING_ENV, TEST_PAYLOAD_KEYS
from tests.pii_search import found_in, history_text, needles
from tests.test_activities import FROM, SID, TOKEN
from workers.run import run_worker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
    ),
]

NAME = "赵雪秘"
ADDRESS = "杭州市西湖区保密巷 17 号"


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[tuple[str, str, httpx.AsyncClient]]:
    hooks = WebhookRecorder()
    config = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
    async with (
        serve(create_sandbox_app(config)) as sandbox_url,
        serve(hooks.app) as hooks_url,
        httpx.AsyncClient(base_url=sandbox_url) as control,
    ):
        yield sandbox_url, hooks_url, control


def _settings(
    tmp_path: Path, db_url: str, sandbox_url: str, hooks_url: str, queues: Any
) -> Settings:
    return Settings(
        env="test",
        api_keys={hash_api_key(k): {"id": f"{role}-1", "role": role} for role, k in KEYS.items()},
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_base_url=sandbox_url,
        twilio_from_number=FROM,
        messaging_rate_per_second=1000.0,
        session_secret=f"erasure-test-session-secret-{uuid.uuid4().hex}",
        public_base_url=hooks_url,
        task_queue=queues[0],
        messaging_task_queue=queues[1],
        database_url=db_url,
        data_dir=tmp_path,
        export_signing_key=signing_key(tmp_path),
        payload_keys=TEST_PAYLOAD_KEYS,
    )


class Http:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http, self.settings = http, settings

    async def call(self, method: str, role: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {KEYS[role]}"}
        response = await self.http.request(method, path, json=body, headers=headers)
        assert response.is_success, response.text
        return response.json()

    async def wait_for(self, loan_id: str, reached: Any, within: float = 30.0) -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = await self.call("GET", "auditor", f"/v1/cases/{loan_id}")
            if reached(state):
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not reached in {within}s: {state}")
            await asyncio.sleep(0.2)

    async def inbound(self, phone: str, text: str) -> None:
        path = "/webhooks/twilio/inbound"
        params = {"MessageSid": f"SMin{uuid.uuid4().hex[:10]}", "From": phone, "Body": text}
        url = self.settings.public_base_url.rstrip("/") + path
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        response = await self.http.post(
            path, data=params, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200, response.text


async def _run_case(api: Http, phone: str) -> tuple[str, str]:
    """The case's story through the API; (loan id, borrower id)."""
    borrower_id = f"B-{uuid.uuid4().hex[:8]}"
    event = {
        "loan_id": f"L-{uuid.uuid4().hex[:10]}",
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": "2026-11-20",
        "strategy": "sms-first",
        "borrower": {
            "id": borrower_id,
            "name": NAME,
            "phone": phone,
            "timezone": factories.open_window_zone(),
            "locale": "zh-CN",
            "region": f"r-{uuid.uuid4().hex[:6]}",
            "address": ADDRESS,
            "birth_year": 1984,
            "consent": {"sms": True, "call": True},
        },
    }
    await api.call("POST", "system", "/v1/overdue-events", event)
    loan_id = str(event["loan_id"])
    await api.wait_for(loan_id, lambda s: any(r["provider_sid"] for r in s["contact_log"]))
    note = {"text": f"{NAME}说她住在{ADDRESS}，请打{phone}"}
    await api.call("POST", "operator", f"/v1/cases/{loan_id}/notes", note)
    await api.inbound(phone, f"我是{NAME}，下周一还款")  # no case id: found by the phone's HMAC
    await api.wait_for(loan_id, lambda s: len(s["notes"]) == 2)
    payment = {"payment_ref": "P-erase", "amount": "1530.50", "paid_at": "2026-11-30T10:00:00Z"}
    paid = await api.call("POST", "system", f"/v1/cases/{loan_id}/payments", payment)
    assert paid["stage"] == "resolved"
    return loan_id, borrower_id


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, f"{result.output}{result.exception or ''}"


async def _sql_dump(db_url: str, database: Database) -> str:
    """Every row of every table, and for SQLite the file's own SQL dump."""
    lines: list[str] = []
    async with database.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).all()
            lines += [f"{table.name}: {tuple(row)!r}" for row in rows]
            lines += [f"{table.name}: {tuple(map(str, row))}" for row in rows]
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.split("///", 1)[1]) as raw:
            lines += list(raw.iterdump())
    return "\n".join(lines)


async def test_erased_borrower_leaves_no_trace_and_the_record_stands(
    dev_env: WorkflowEnvironment,
    twilio: tuple[str, str, httpx.AsyncClient],
    db_url: str,
    tmp_path: Path,
    task_queue: str,
    messaging_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Erase after a real case: the decoded histories, a dump of every table, the captured
    logs and a CLI export hold no name, phone or address; the histories replay; the timeline
    still has stages, amounts and actors, and the note reads [erased]."""
    caplog.set_level(logging.INFO)
    sandbox_url, hooks_url, control = twilio
    await asyncio.to_thread(upgrade_database, db_url)
    settings = _settings(tmp_path, db_url, sandbox_url, hooks_url, (task_queue, messaging_queue))
    phone = f"+86138{uuid.uuid4().int % 10**8:08d}"
    database = Database(db_url)
    client: Client = dev_env.client

    async def factory(_: Settings) -> Client:
        return client

    web = create_app(
        settings, temporal_client_factory=factory, database=database, strategies=strategies()
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, client=client))
    try:
        async with (
            web.router.lifespan_context(web),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=web), base_url=settings.public_base_url
            ) as http,
        ):
            api = Http(http, settings)
            loan_id, borrower_id = await _run_case(api, phone)
            await client.get_workflow_handle(f"case-{loan_id}").result()
            outbox = (await control.get("/sandbox/outbox")).json()["messages"]
            texts = [m["body"] for m in outbox if m["to"] == phone]
            assert any(NAME in t for t in texts), texts  # the activity filled in the name
            opened = await api.call("GET", "auditor", f"/v1/cases/{loan_id}")
            assert NAME in opened["notes"][0]["text"]  # readable while the key exists

            # A photo from the door, kept sealed as the field screen keeps it.
            vault = Vault.from_settings(database, settings)
            photo = b"\xff\xd8\xff\xe0" + ADDRESS.encode()
            _, kept = await files.seal_file(vault, settings.data_dir, borrower_id, photo, "jpg")
            assert await files.open_file(vault, borrower_id, kept) == photo

            monkeypatch.setenv("COLLECTFLOW_ENV", "development")  # the CLI on a test server
            monkeypatch.setenv("COLLECTFLOW_DATABASE_URL", db_url)
            monkeypatch.setenv("COLLECTFLOW_DATA_DIR", str(settings.data_dir))
            get_settings.cache_clear()
            status, output = await asyncio.to_thread(
                _cli, "borrowers", "erase", borrower_id, "--actor", "dpo-1"
            )
            assert status == 0, output
            assert "1 case(s)" in output and NAME not in output
            assert "1 evidence file(s) deleted" in output and not kept.exists()

            after = await api.call("GET", "auditor", f"/v1/cases/{loan_id}")
            assert [n["text"] for n in after["notes"]] == ["[erased]", "borrower wrote: [erased]"]
            page = await api.call("GET", "auditor", f"/v1/cases/{loan_id}/history?limit=10000")
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=15)

    monkeypatch.setenv("COLLECTFLOW_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("COLLECTFLOW_EXPORT_SIGNING_KEY", str(settings.export_signing_key))
    for name, value in TEST_KEYRING_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    # The auditor's CLI timeline opens sealed notes from the app database: erased now.
    monkeypatch.setenv("COLLECTFLOW_DATABASE_URL", db_url)
    get_settings.cache_clear()
    status, shown = await asyncio.to_thread(_cli, "audit", "timeline", loan_id, "--json")
    assert status == 0 and "[erased]" in shown and "text:" not in shown, shown
    status, refs = await asyncio.to_thread(_cli, "audit", "timeline", loan_id, "--json", "--refs")
    assert status == 0 and "text:" in refs and "[erased]" not in refs, refs
    bundle = tmp_path / "export"
    status, output = await asyncio.to_thread(_cli, "audit", "export", loan_id, "--out", str(bundle))
    get_settings.cache_clear()
    assert status == 0, output

    histories = await fetch_case_histories(client, f"case-{loan_id}")
    searched = {
        "history": "\n".join(history_text(h) for h in histories),
        "tables": await _sql_dump(db_url, database),
        "export": "\n".join(p.read_text("utf-8") for p in sorted(bundle.iterdir())),
        "timeline page": str(page),
    }
    out, errors = capfd.readouterr()
    searched["logs"] = "\n".join([out, errors, caplog.text])
    personal = needles(NAME, phone, ADDRESS)
    for where, text in searched.items():
        assert found_in(text, personal) == [], where
    assert all(len(text) > 100 for text in searched.values())  # each search read something

    summary = await replay_histories(histories, converter=client.data_converter)
    assert summary.failed == [] and summary.passed == len(histories) >= 1

    entries = build_timeline(histories)
    stages = [e.stage for e in entries if e.stage]
    assert stages[0] == "reminding" and stages[-1] == "resolved"
    assert any("P-erase" in e.summary and "1530.50" in e.summary for e in entries), entries
    actors = {e.actor_id for e in entries if e.actor_id}
    assert {"operator-1", "system-1"} <= actors
    served = [e["summary"] for e in page["entries"]]
    assert any("[erased]" in s for s in served)

    async with database.session() as session:
        [record] = (await session.exec(select(Erasure))).all()
    assert (record.borrower_id, record.actor) == (borrower_id, "dpo-1")
    await database.dispose()
