"""Migrations: empty to head on SQLite and PostgreSQL, and the head agrees with the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from activities.db import alembic_config, pending_model_changes, upgrade_database

MODEL_TABLES = set(SQLModel.metadata.tables)


def _schema(connection: Connection) -> tuple[set[str], str | None]:
    tables = set(sa.inspect(connection).get_table_names())
    return tables, MigrationContext.configure(connection).get_current_revision()


async def schema_of(url: str) -> tuple[set[str], str | None]:
    """The database's tables and its current revision."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("unused")).get_current_head()


async def test_upgrade_from_empty_reaches_head(db_url: str) -> None:
    """An empty database upgraded to head has every model table and records the head."""
    await asyncio.to_thread(upgrade_database, db_url)
    tables, revision = await schema_of(db_url)
    assert tables == MODEL_TABLES | {"alembic_version"}
    assert revision == head_revision()


async def test_head_migration_matches_models(db_url: str) -> None:
    """After upgrading, autogenerate finds nothing to add: models and migrations agree."""
    await asyncio.to_thread(upgrade_database, db_url)
    assert await asyncio.to_thread(pending_model_changes, db_url) == []


async def test_check_reports_differences(db_url: str) -> None:
    """The agreement check is not vacuous: on an empty database it reports every table."""
    diffs = await asyncio.to_thread(pending_model_changes, db_url)
    added = {diff[1].name for diff in diffs if isinstance(diff, tuple) and diff[0] == "add_table"}
    assert added == MODEL_TABLES


async def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    """The initial migration reverses cleanly."""
    await asyncio.to_thread(upgrade_database, db_url)
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "base")
    tables, revision = await schema_of(db_url)
    assert (tables, revision) == ({"alembic_version"}, None)


async def test_upgrade_works_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """upgrade_database finds the migrations and creates the SQLite folder from any cwd."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'app.db'}"
    await asyncio.to_thread(upgrade_database, url)
    tables, _ = await schema_of(url)
    assert tables == MODEL_TABLES | {"alembic_version"}
