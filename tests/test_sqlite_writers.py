"""A "database is locked" error names the writer holding SQLite's lock (chaos seed 14).

Two connections of the project's own ``Database`` on one real file: the first writes and keeps
its transaction open, the second tries to write and waits out a short busy timeout. The log
line of the refusal names the first writer's statement and how long it has held the lock, and
no bound value; once the first commits it is no longer listed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from activities import db as app_db
from activities import sqlite_writers
from activities.db import Database
from models.observability import configure_logging
from models.settings import Settings

SECRET = "Wang Xiaofang"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(Settings(env="development", log_json=True, log_level="INFO"), stream=stream)
    yield stream


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setattr(app_db, "SQLITE_BUSY_TIMEOUT_MS", 200)  # refuse fast, not after 30 s
    return Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")


async def test_a_lock_error_names_the_open_writer(
    database: Database, captured: io.StringIO
) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    async with database.session() as holder:
        await holder.exec(sa.text("INSERT INTO notes (body) VALUES (:b)"), params={"b": SECRET})  # type: ignore[call-overload]
        assert [w["first_write"] for w in sqlite_writers.holders()] == [
            "INSERT INTO notes (body) VALUES (?)"
        ]
        async with database.session() as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.exec(sa.text("UPDATE notes SET body = 'x'"))  # type: ignore[call-overload]
        await holder.commit()
    assert sqlite_writers.holders() == []
    lines = [line for line in captured.getvalue().splitlines() if "database is locked" in line]
    assert len(lines) == 1, captured.getvalue()
    assert "UPDATE notes SET body" in lines[0]
    assert "INSERT INTO notes (body) VALUES (?)" in lines[0]
    assert SECRET not in captured.getvalue()
    await database.dispose()


async def test_a_writer_returned_to_the_pool_without_commit_is_forgotten(
    database: Database,
) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    async with database.session() as session:
        await session.exec(sa.text("INSERT INTO notes (body) VALUES ('a')"))  # type: ignore[call-overload]
        assert len(sqlite_writers.holders()) == 1
    # closed without commit: the pool rolled it back on return
    assert sqlite_writers.holders() == []
    await database.dispose()
