"""A locked or unreachable application database answers 503 with Retry-After, never a 500.

Chaos seed 15 (SQLite under load): a note's sealing hit "database is locked" and the API
answered 500. Here a real SQLite file is held under an exclusive lock by another connection
while a route writes to it through the project's engine and error handlers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from api import errors


@pytest.fixture
def locked_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "app.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the file
    try:
        yield path
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _app(path: Path) -> FastAPI:
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.2}, hide_parameters=True
    )
    app = FastAPI()
    errors.install(app)

    @app.post("/notes")
    async def add_note() -> dict[str, str]:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO notes (body) VALUES (:b)"), {"b": "x"})
        return {"ok": "yes"}

    @app.post("/broken")
    async def broken() -> dict[str, str]:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))
        return {"ok": "yes"}

    return app


async def _post(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(path)


async def test_a_locked_database_is_a_503_with_retry_after(locked_db: Path) -> None:
    response = await _post(_app(locked_db), "/notes")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"detail": "the application database is busy; retry shortly"}


async def test_a_statement_that_can_never_succeed_is_still_a_500(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "app.db").close()
    response = await _post(_app(tmp_path / "app.db"), "/broken")
    # "no such table" is an OperationalError in SQLite too, but it is not transient
    assert response.status_code == 500
