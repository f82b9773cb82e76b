"""Small SQL helpers shared by the activities: the dialect's INSERT (for ON CONFLICT) and tables.

Upserts are single ``INSERT ... ON CONFLICT`` statements, so a retried activity, or two racing
ones, never trip over a duplicate key. SQLite and PostgreSQL both speak this dialect of it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from activities.db import Database


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a ``table=True`` model."""
    table: sa.Table = getattr(model, "__table__")  # noqa: B009  # set by SQLModel's metaclass
    return table


def insert_for(db: Database, table: sa.Table) -> Any:
    """``INSERT`` with ``on_conflict_do_update`` / ``on_conflict_do_nothing`` for this backend."""
    return insert_for_dialect(db.engine.dialect.name, table)


def insert_for_dialect(dialect: str, table: sa.Table) -> Any:
    """``insert_for`` by the dialect's name."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}; use SQLite or PostgreSQL")
