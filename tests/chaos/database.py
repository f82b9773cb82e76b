"""The chaos run's view of the app database, SQLite or PostgreSQL (``--db postgres``).

Rows come back as plain dicts with money in units (SQLite keeps minor units, see
``models.tables.MoneyType``), so the checks do not care which database ran.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

QUERIES = {
    "attempts": "SELECT idempotency_key, case_id, channel, to_number, status, provider_sid "
    "FROM contact_attempts",
    "payments": "SELECT payment_ref, case_id, amount FROM payments",
    "cases": "SELECT case_id, stage, balance FROM cases",
}
MONEY = {"payments": "amount", "cases": "balance"}


def _money(raw: object, sqlite: bool) -> Decimal:
    value = Decimal(str(raw))
    return value.scaleb(-2) if sqlite else value


async def _read(url: str, names: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    engine = create_async_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        async with engine.connect() as conn:
            found: dict[str, list[dict[str, Any]]] = {}
            for name in names:
                rows = [dict(r) for r in (await conn.execute(sa.text(QUERIES[name]))).mappings()]
                for row in rows:
                    if name in MONEY:
                        row[MONEY[name]] = _money(row[MONEY[name]], sqlite)
                    for column, value in row.items():  # enums come back as their names
                        if hasattr(value, "value"):
                            row[column] = value.value
                found[name] = rows
            return found
    finally:
        await engine.dispose()


def read_db(url: str, names: tuple[str, ...] = tuple(QUERIES)) -> dict[str, list[dict[str, Any]]]:
    return asyncio.run(_read(url, names))


async def _reset(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:

            def drop(sync: sa.Connection) -> None:
                meta = sa.MetaData()
                meta.reflect(sync)
                meta.drop_all(sync)
                for (name,) in sync.execute(
                    sa.text(
                        "SELECT typname FROM pg_type t JOIN pg_namespace n "
                        "ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
                        "AND t.typtype = 'e'"
                    )
                ):
                    sync.execute(sa.text(f'DROP TYPE IF EXISTS "{name}" CASCADE'))

            await conn.run_sync(drop)
    finally:
        await engine.dispose()


def reset_postgres(url: str) -> None:
    """An empty database for the run: every table (and enum type) of an earlier run dropped."""
    asyncio.run(_reset(url))
