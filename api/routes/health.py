"""``GET /healthz`` (is Temporal reachable, is the database) and ``GET /metrics``."""

from __future__ import annotations

import asyncio

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
    summary="Reachability of Temporal and the database",
    responses={503: {"model": Health, "description": "a component is unreachable"}},
)
async def healthz(state: StateDep) -> JSONResponse:
    """200 when both answer, 503 (same body) when either does not. No API key needed."""
    temporal, database = await asyncio.gather(_temporal(state), _database(state))
    health = Health(
        status="ok" if temporal.ok and database.ok else "degraded",
        temporal=temporal,
        database=database,
    )
    code = 200 if health.status == "ok" else 503
    return JSONResponse(health.model_dump(), status_code=code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
