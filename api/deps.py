"""Request dependencies as ``Annotated`` aliases, and the per-app state they read.

Routes declare what they need (``SettingsDep``, ``TemporalClientDep``, ``DatabaseDep``,
``ActorDep``, or ``Allowed(Action.X)`` for a role-checked actor); tests swap the Temporal
client and the database through :func:`api.app.create_app`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from activities.db import Database
from api.auth import PHRASES, Action, allowed, resolve_key, roles_for
from api.errors import ApiError
from api.ratelimit import RateLimiter, retry_after_seconds
from api.recent import RecentKeys
from api.strategies import StrategyBook
from models.common import Actor
from models.settings import Settings
from workers.codec import EncryptionCodec

log = structlog.get_logger(__name__)

TemporalClientFactory = Callable[[Settings], Awaitable[Client]]
CONNECT_RETRY_SECONDS = 2.0


@dataclass
class AppState:
    settings: Settings
    client_factory: TemporalClientFactory
    strategies: StrategyBook
    database: Database | None = None
    client: Client | None = None
    recent_webhooks: RecentKeys = field(default_factory=RecentKeys)
    limiter: RateLimiter | None = None
    codec: EncryptionCodec | None = None  # built on first use by /codec
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retry_at: float = 0.0

    async def temporal(self) -> Client:
        """The Temporal client, connecting on first use if start-up could not.

        After a failed attempt, requests answer 503 at once for a few seconds instead of each
        waiting on its own connection attempt.
        """
        if self.client is not None:
            return self.client
        async with self._connect_lock:
            if self.client is None:
                if time.monotonic() < self._retry_at:
                    raise _temporal_down()
                try:
                    self.client = await self.client_factory(self.settings)
                except Exception as exc:  # any connect failure: the caller answers 503
                    self._retry_at = time.monotonic() + CONNECT_RETRY_SECONDS
                    log.warning("temporal unreachable", error=repr(exc))
                    raise _temporal_down() from exc
            return self.client


def _temporal_down() -> ApiError:
    return ApiError(503, "Temporal is unreachable; retry shortly", retry_after=5)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.collectflow
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_temporal_client(state: StateDep) -> Client:
    return await state.temporal()


TemporalClientDep = Annotated[Client, Depends(get_temporal_client)]


def get_database(state: StateDep) -> Database:
    if state.database is None:
        raise ApiError(503, "the application database is not configured", retry_after=30)
    return state.database


DatabaseDep = Annotated[Database, Depends(get_database)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


def current_actor(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the bearer key; 401 without one or for an unknown one."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    actor = resolve_key(credentials.credentials, state.settings.resolved_api_keys())
    if actor is None:
        raise _unauthorized("the API key is not valid")
    structlog.contextvars.bind_contextvars(actor=actor.id, role=actor.role.value)
    _within_rate(state, actor)
    return actor


def _within_rate(state: AppState, actor: Actor) -> None:
    """429 with Retry-After once this key has spent its burst faster than its rate."""
    if state.limiter is None:
        return
    wait = state.limiter.take(f"{actor.role.value}:{actor.id}")
    if wait > 0:
        seconds = retry_after_seconds(wait)
        limiter = state.limiter
        raise ApiError(
            429,
            f"API key of '{actor.id}' is over its rate limit ({limiter.rate:g} requests a second, "
            f"bursts of {limiter.burst}); retry after {seconds} s",
            retry_after=seconds,
        )


ActorDep = Annotated[Actor, Depends(current_actor)]


def _unauthorized(detail: str) -> ApiError:
    error = ApiError(401, detail)
    error.headers = {"WWW-Authenticate": "Bearer"}
    return error


def require(action: Action) -> Callable[..., Any]:
    """A dependency that answers 403 unless the caller's role may do ``action``."""

    def check(actor: ActorDep) -> Actor:
        if not allowed(actor.role, action):
            names = ", ".join(r.value for r in roles_for(action))
            raise ApiError(
                403, f"role '{actor.role.value}' may not {PHRASES[action]}; allowed: {names}"
            )
        return actor

    return check
