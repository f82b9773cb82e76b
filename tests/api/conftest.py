"""API fixtures: the app on the real dev server, a real SQLite database, stand-in activities.

``api`` yields an :class:`ApiHarness`: an httpx client speaking to the app in-process (its
base URL is the app's public URL, so webhook signatures line up), the workers running the
case workflow on this test's queues, and helpers for keys and signed Twilio requests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from activities.db import Database, upgrade_database
from activities.vault.store import Vault
from api.app import create_app
from audit.signing import generate_key
from models.common import Channel
from models.settings import Settings, hash_api_key
from models.strategy import ReminderStep, Strategy
from tests import factories
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.stand_ins import StandIns, running_workers

PUBLIC_URL = "https://collectflow.example.com"
TWILIO_TOKEN = "test-twilio-auth-token-0123456789"
SESSION_SECRET = f"test-session-secret-{uuid.uuid4().hex}"
ROLES = ("system", "operator", "supervisor", "auditor", "admin")
KEYS = {role: f"test-{role}-key-{uuid.uuid4().hex}" for role in ROLES}


@dataclass
class ApiHarness:
    http: httpx.AsyncClient
    client: Client
    settings: Settings
    stand_ins: StandIns
    database: Database
    region: str = field(default_factory=lambda: f"r-{uuid.uuid4().hex[:8]}")

    @staticmethod
    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[role]}"}

    async def post(self, role: str, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(role), **kwargs)

    async def get(self, role: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(role), **kwargs)

    def overdue_event(self, **changes: Any) -> dict[str, Any]:
        """A valid overdue event for a new loan, borrower in a zone where it is daytime now."""
        event: dict[str, Any] = {
            "loan_id": f"L-{uuid.uuid4().hex[:10]}",
            "currency": "CNY",
            "amount_overdue": "1530.50",
            "outstanding_balance": "9800.00",
            "due_date": "2026-11-20",
            "strategy": "fast",
            "borrower": {
                "id": f"B-{uuid.uuid4().hex[:8]}",
                "name": "王芳",
                "phone": "+8613800138000",
                "timezone": factories.open_window_zone(),
                "locale": "zh-CN",
                "region": self.region,
                "address": "杭州市西湖区文三路 1 号",
                "consent": {"sms": True, "call": True},
            },
        }
        event.update(changes)
        return event

    async def open_case(self, **changes: Any) -> str:
        """Post an overdue event; the loan id of the started case."""
        event = self.overdue_event(**changes)
        response = await self.post("system", "/v1/overdue-events", event)
        assert response.status_code == 202, response.text
        assert response.json()["started"] is True
        return str(event["loan_id"])

    async def signed_post(
        self, path: str, params: Mapping[str, str], *, signature: str | None = None
    ) -> httpx.Response:
        """POST a form as Twilio would, signed for the public URL unless told otherwise."""
        url = PUBLIC_URL + path
        if signature is None:
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(params))
        return await self.http.post(
            path, data=dict(params), headers={"X-Twilio-Signature": signature}
        )

    async def wait_for(
        self, loan_id: str, reached: Any, *, within: float = 60.0, role: str = "auditor"
    ) -> dict[str, Any]:
        """Poll the case state until ``reached(state)``; fail with the last state otherwise."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            response = await self.get(role, f"/v1/cases/{loan_id}")
            assert response.status_code == 200, response.text
            state: dict[str, Any] = response.json()
            if reached(state):
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not reached in {within}s: {state['stage']} {state}")
            await asyncio.sleep(0.2)


def strategies() -> dict[str, Strategy]:
    """Strategies the tests name in their overdue events.

    ``fast``/``medium``: the demo cadence with 1- and 3-second days; ``slow``: nothing happens
    for an hour; ``straight-to-visit``: no reminders and no wait, so the case is in stage visit
    at once; ``chain``: the same, continuing-as-new at a stage boundary past 100 events.
    """
    no_wait = factories.default_strategy().wait.model_copy(update={"days": 0})
    return {
        "fast": factories.seconds_strategy(1),
        "medium": factories.seconds_strategy(3, id="medium"),
        "slow": factories.seconds_strategy(3600, id="slow"),
        "straight-to-visit": factories.seconds_strategy(
            3600, id="straight-to-visit", reminders=(), wait=no_wait
        ),
        # The borrower's page tests: the first reminder SMS (with its link) at once, then quiet.
        "sms-first": factories.seconds_strategy(
            3600,
            id="sms-first",
            reminders=(ReminderStep(day=0, channel=Channel.SMS, template="friendly_notice"),),
        ),
        "chain": factories.seconds_strategy(
            3600, id="chain", reminders=(), wait=no_wait, continue_as_new_events=100
        ),
    }


@pytest.fixture
async def app_database(sqlite_url: str) -> AsyncIterator[Database]:
    """A fresh SQLite file at the head migration (``sqlite_url`` from tests/db_fixtures)."""
    await asyncio.to_thread(upgrade_database, sqlite_url)
    db = Database(sqlite_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def settings(tmp_path: Path, task_queue: str, messaging_queue: str) -> Settings:
    return Settings(
        env="test",
        api_keys={hash_api_key(k): {"id": f"{role}-1", "role": role} for role, k in KEYS.items()},
        twilio_auth_token=TWILIO_TOKEN,
        session_secret=SESSION_SECRET,
        public_base_url=PUBLIC_URL,
        task_queue=task_queue,
        messaging_task_queue=messaging_queue,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path,
        export_signing_key=signing_key(tmp_path),
        payload_keys=TEST_PAYLOAD_KEYS,
    )


def signing_key(directory: Path) -> Path:
    """An export signing key for the API (required outside development); public key: +.pub."""
    path = directory / "keys" / "export-signing-key.pem"
    generate_key(path)
    return path


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, settings: Settings, app_database: Database
) -> AsyncIterator[ApiHarness]:
    client = dev_env.client

    async def factory(_: Settings) -> Client:
        return client

    app = create_app(
        settings, temporal_client_factory=factory, database=app_database, strategies=strategies()
    )
    stand_ins = StandIns(
        agents=[f"A-{uuid.uuid4().hex[:6]}", f"A-{uuid.uuid4().hex[:6]}"],
        vault=Vault.from_settings(app_database, settings),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        running_workers(client, settings.task_queue, settings.messaging_task_queue, stand_ins),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http,
    ):
        yield ApiHarness(http, client, settings, stand_ins, app_database)
