"""Health reports each dependency; the app starts without Temporal and answers 503 for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.db import Database
from api import deps
from api.app import create_app
from models.settings import Settings
from tests.api.conftest import KEYS, PUBLIC_URL, ApiHarness


async def test_healthz_ok_when_temporal_and_database_answer(api: ApiHarness) -> None:
    """Both reachable → 200 ok; the sandbox is only checked in development."""
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "temporal": {"ok": True, "detail": ""},
        "database": {"ok": True, "detail": ""},
        "sandbox": None,
    }


async def test_without_temporal_health_degrades_and_actions_answer_503(
    settings: Settings, app_database: Database
) -> None:
    """Temporal down at start-up: the app still starts, /healthz says which part is down
    (503), an action answers 503 with Retry-After at once (no new attempt for a moment)."""
    attempts = 0

    async def unreachable(_: Settings) -> Client:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("connection refused")

    app = create_app(settings, temporal_client_factory=unreachable, database=app_database)
    async with _serving(app) as http:
        health = await http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["temporal"] == {"ok": False, "detail": "unreachable (ApiError)"}
        assert health.json()["database"] == {"ok": True, "detail": ""}
        note = await http.post("/v1/cases/L-1/notes", json={"text": "hi"}, headers=_OPERATOR)
        assert note.status_code == 503 and note.headers["Retry-After"] == "5"
    assert attempts == 1  # the failed start-up attempt holds further attempts off briefly


async def test_connects_once_temporal_comes_back(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    app_database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Down at start-up and at the first request, up later: the next request connects."""
    monkeypatch.setattr(deps, "CONNECT_RETRY_SECONDS", 0.0)
    attempts = 0

    async def flaky(_: Settings) -> Client:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise RuntimeError("connection refused")
        return dev_env.client

    app = create_app(settings, temporal_client_factory=flaky, database=app_database)
    async with _serving(app) as http:
        assert (await http.get("/healthz")).status_code == 503
        note = await http.post("/v1/cases/L-1/notes", json={"text": "hi"}, headers=_OPERATOR)
        assert note.status_code == 404
        assert (await http.get("/healthz")).status_code == 200
    assert attempts == 3


_OPERATOR = {"Authorization": f"Bearer {KEYS['operator']}"}


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http,
    ):
        yield http
