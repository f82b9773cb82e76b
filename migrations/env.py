"""Alembic environment: migrations run on the app's async engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from activities.db import COMPARE_OPTIONS, ensure_sqlite_dir, make_engine
from models.settings import get_settings
from models.tables import MoneyType

config = context.config
if config.config_file_name is not None:  # the `alembic` command line, not upgrade_database()
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def database_url() -> str:
    url = config.attributes.get("url")
    return str(url) if url else get_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the app's column types as plain SQLAlchemy types.

    A migration is frozen history: it should not break when sqlmodel moves AutoString or when
    models/tables.py changes MoneyType. The database sees the same DDL either way.
    """
    if type_ != "type":
        return False
    if isinstance(obj, MoneyType):
        return 'sa.Numeric(precision=18, scale=2).with_variant(sa.BigInteger(), "sqlite")'
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, AutoString | sa.Enum):
        length = obj.length  # AutoString passes attribute reads through to its String
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite alters a table by copying it; batch mode writes migrations that do that, and
        # PostgreSQL runs the same batch operations as plain ALTERs, so one script serves both.
        render_as_batch=True,
        render_item=render_item,
        **COMPARE_OPTIONS,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the DDL instead of running it."""
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # NullPool: a one-off run. Not activities.db.Database: SQLite's batch copies
    # drop and rename tables, which foreign_keys=ON would refuse.
    url = make_url(database_url())
    ensure_sqlite_dir(url)  # also for the `alembic` command line on a fresh clone
    engine = make_engine(url, poolclass=pool.NullPool)  # hides parameters like every engine
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
