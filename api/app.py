"""The FastAPI application: ``create_app(settings, ...)`` wires routers, auth, errors, limits.

Dependencies are injectable: tests pass a Temporal client from their own server and a database
on a temporary file; production builds both from settings. Run with
``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from temporalio.client import Client

import web.mount
from activities.db import Database
from api import errors
from api.deps import AppState, TemporalClientFactory
from api.middleware import MAX_BODY_BYTES, BodyLimitMiddleware, RequestCountMiddleware
from api.nul_guard import NulGuardMiddleware
from api.ratelimit import RateLimiter
from api.routes import cases, codec, engagement, events, health, history, webhooks
from api.strategies import StrategyBook
from models.settings import Settings, get_settings
from models.strategy import Strategy
from workers.codec import keyring_for
from workers.temporal import connect

log = structlog.get_logger(__name__)

DESCRIPTION = """
CollectFlow: collection of overdue consumer loans, one durable Temporal workflow per case.

Authenticate with `Authorization: Bearer <api key>`. Roles: **system** (overdue events,
payments), **operator** (visits, negotiation, hardship, disputes, notes, cease-contact, close;
reads), **supervisor** (everything an operator may, and escalation decisions), **auditor**
(reads only), **admin** (everything).

Errors: 401 no or unknown key · 403 role not allowed · 404 unknown case · 409 the action does
not fit the case now (the case's own sentence) or the case is closed · 413 body over 64 KiB ·
422 invalid input, each error naming its field · 429/503 retry after `Retry-After` seconds.
Money travels as decimal strings.
"""


async def default_client_factory(settings: Settings) -> Client:
    return await connect(
        settings.temporal_address, settings.temporal_namespace, keyring=keyring_for(settings)
    )


def rate_limiter(settings: Settings) -> RateLimiter | None:
    if settings.api_rate_per_second is None:
        return None
    return RateLimiter(rate=settings.api_rate_per_second, burst=settings.api_rate_burst)


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client_factory: TemporalClientFactory | None = None,
    database: Database | None = None,
    strategies: Mapping[str, Strategy] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API.

    ``temporal_client_factory(settings)`` returns a connected client (default: ``connect`` to
    ``settings.temporal_address`` with the pydantic converter); it is called at start-up and,
    if Temporal was down then, again on first use. ``database``: the app database (default:
    one built from ``settings.database_url``, owned and disposed by the app). ``strategies``:
    strategies by name that take precedence over the files in ``settings.strategy_dir``.
    """
    settings = settings or get_settings()
    owns_database = database is None
    state = AppState(
        settings=settings,
        client_factory=temporal_client_factory or default_client_factory,
        strategies=StrategyBook(settings.strategy_dir, strategies, allow_demo=settings.allows_demo),
        database=database if database is not None else Database(settings.database_url),
        limiter=rate_limiter(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await state.temporal()
        except errors.ApiError:
            log.warning("starting without Temporal; will connect on first use")
        try:
            yield
        finally:
            if owns_database and state.database is not None:
                await state.database.dispose()

    app = FastAPI(
        title="CollectFlow API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # web.mount serves /docs and /redoc from vendored assets (offline)
        redoc_url=None,
    )
    app.state.collectflow = state
    errors.install(app)
    app.add_middleware(NulGuardMiddleware)  # inside the size limit: the body is whole by then
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max_body_bytes, larger=web.mount.UPLOAD_LIMITS
    )
    app.add_middleware(RequestCountMiddleware)  # added last: outermost, sees every answer
    for module in (events, cases, history, engagement, webhooks, health):
        app.include_router(module.router)
    app.mount("/codec", codec.codec_app(state))
    web.mount.install(app, settings, state.database)  # screens for people, /docs, /static
    return app
