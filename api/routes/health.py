"""``GET /healthz`` (is Temporal reachable, is the database) and ``GET /metrics``."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api import metrics, store
from api.deps import StateDep
from api.schemas import Component, Health

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 3.0


async def _temporal(state: StateDep) -> Component:
    try:
        client = await state.temporal()
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            ok = await client.service_client.check_health()
    except Exception as exc:  # any failure at all means "not reachable"
        return Component(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Component(ok=bool(ok), detail="" if ok else "health check failed")


async def _database(state: StateDep) -> Component:
    if state.database is None:
        return Component(ok=False, detail="not configured")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await store.ping(state.database)
    except (store.StoreUnavailable, TimeoutError) as exc:
        return Component(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Component(ok=True)


@router.get(
    "/healthz",
    response_model=Health,
    summary="Reachability of Temporal, the database and (in development) the sandbox",
    responses={503: {"model": Health, "description": "a component is unreachable"}},
)
async def healthz(state: StateDep) -> JSONResponse:
    """200 when both answer, 503 (same body) when either does not. No API key needed."""
    temporal, database, sandbox = await asyncio.gather(
        _temporal(state), _database(state), _sandbox(state)
    )
    healthy = temporal.ok and database.ok and (sandbox is None or sandbox.ok)
    health = Health(
        status="ok" if healthy else "degraded",
        temporal=temporal,
        database=database,
        sandbox=sandbox,
    )
    code = 200 if health.status == "ok" else 503
    return JSONResponse(health.model_dump(), status_code=code)


async def _sandbox(state: StateDep) -> Component | None:
    """The local Twilio sandbox, checked only in development (production talks to Twilio)."""
    if state.settings.env != "development":
        return None
    url = f"{state.settings.twilio_base_url.rstrip('/')}/sandbox/health"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as http:
            ok = (await http.get(url)).status_code == 200
    except httpx.HTTPError as exc:
        return Component(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Component(ok=ok, detail="" if ok else "unhealthy")


async def _worker_metrics(state: StateDep) -> bytes:
    """The worker's Temporal SDK metrics and workflow counters (contacts by outcome, stage
    transitions, payments), federated in development where the worker runs beside the API.
    In production Prometheus scrapes each worker's own endpoint instead."""
    address = state.settings.worker_metrics_address
    if state.settings.env != "development" or not address:
        return b""
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as http:
            response = await http.get(f"http://{address}/metrics")
    except httpx.HTTPError:
        return b"# worker metrics unreachable\n"
    return response.content if response.status_code == 200 else b""


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(state: StateDep) -> Response:
    body, content_type = metrics.render()
    return Response(content=body + await _worker_metrics(state), media_type=content_type)
