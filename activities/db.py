"""The application database: one async engine, sessions, and the Alembic migrations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import models.tables  # registers every table on SQLModel.metadata
import models.users  # noqa: F401  # the screens' people and sessions
from activities import sqlite_writers
from models.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
# A worker runs up to 100 activities at once; SQLAlchemy's default pool (5 + 10 overflow) made
# bursts wait out its 30 s checkout timeout (seen in the 1,000-loan simulation). SQLite
# connections are cheap file handles, so give it room; PostgreSQL keeps a bounded pool.
SQLITE_POOL = {"pool_size": 20, "max_overflow": 80, "pool_timeout": 60}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 60}


def _pool_options(url: URL) -> dict[str, int]:
    return SQLITE_POOL if is_sqlite(url) else POSTGRES_POOL


# The API and the worker share one SQLite file: a writer waits this long for the other's lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Shared by migrations/env.py and pending_model_changes, so the check sees what autogenerate sees.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True}


# asyncpg names the value it could not encode ("invalid input for query argument $2: '王芳'
# (...)"): hide_parameters does not reach that text, so it is cut where the value starts.
_ARGUMENT_ECHO = re.compile(r"(invalid input for query argument \$\d+):.*", re.DOTALL)


def _hide_echoed_argument(context: ExceptionContext) -> None:
    # Both the driver's error and SQLAlchemy's wrapper (its text was built from the first).
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is None or not error.args or not isinstance(error.args[0], str):
            continue
        hidden = _ARGUMENT_ECHO.sub(r"\1: (value hidden)", error.args[0])
        if hidden != error.args[0]:
            error.args = (hidden, *error.args[1:])


def make_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """Every engine of the project: database errors and SQL logs never carry bound parameters
    (names, phones, addresses), only the statement and the database's own sentence."""
    engine = create_async_engine(url, hide_parameters=True, **options)
    event.listen(engine.sync_engine, "handle_error", _hide_echoed_argument)
    return engine


class Database:
    """An async engine and its session factory, built once per process."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        ensure_sqlite_dir(self.url)
        self.engine: AsyncEngine = make_engine(
            self.url, pool_pre_ping=True, **_pool_options(self.url)
        )
        if is_sqlite(self.url):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            sqlite_writers.watch(self.engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Objects stay readable after commit."""
        async with self._sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: URL) -> None:
    """SQLite creates the file but not its folder (``.data/`` on a fresh clone)."""
    if is_sqlite(url) and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers work while one process writes; foreign keys are off by default in SQLite
    # and on in PostgreSQL, so turn them on to make both backends refuse the same rows.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# ---------------------------------------------------------------- migrations


def alembic_config(url: str) -> Config:
    """Alembic's config built in code, so migrations run the same from any working directory.

    The URL travels in ``attributes`` rather than the ini options, where ``%`` in a
    URL-encoded password would be read as interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def upgrade_database(url: str) -> None:
    """Apply every migration up to head.

    Runs its own event loop; from async code call it as ``await asyncio.to_thread(...)``.
    """
    command.upgrade(alembic_config(url), "head")


def pending_model_changes(url: str) -> list[Any]:
    """What autogenerate would put in a new migration: empty when models and schema agree."""
    return asyncio.run(_compare_with_models(url))


async def _compare_with_models(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff_against_models)
    finally:
        await engine.dispose()


def _diff_against_models(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts=dict(COMPARE_OPTIONS))
    return list(compare_metadata(context, SQLModel.metadata))
