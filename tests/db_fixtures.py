"""Database fixtures: a fresh SQLite file or a fresh PostgreSQL database for every test.

PostgreSQL runs when ``COLLECTFLOW_TEST_POSTGRES_URL`` names a database whose role may create
databases (CI: ``.ci/run``); otherwise its variants skip and say why. Registered for every
test by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from activities.db import Database, upgrade_database

POSTGRES_URL_ENV = "COLLECTFLOW_TEST_POSTGRES_URL"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'collectflow.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A database created for this test and dropped after it."""
    server = os.environ.get(POSTGRES_URL_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set; the PostgreSQL variant needs a server")
    admin_url = make_url(server)
    name = f"collectflow_t_{uuid.uuid4().hex[:16]}"
    await _run_admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a test that failed midway may still hold a connection.
        await _run_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _run_admin(url: URL, sql: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend in turn."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` whose schema is the head migration, as in production."""
    await asyncio.to_thread(upgrade_database, db_url)  # it runs its own event loop
    db = Database(db_url)
    try:
        yield db
    finally:
        await db.dispose()
