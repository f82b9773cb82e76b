"""Who holds SQLite's write lock, told when another writer is turned away.

SQLite lets one connection write at a time; the others wait out the busy timeout and then fail
with "database is locked". That error names the statement that waited, never the one holding
the lock, and under load (chaos seed 14) the holder was the thing to find. So every SQLite
engine notes, per connection, when its transaction first wrote (pysqlite opens the transaction
at the first INSERT, UPDATE or DELETE) and which statement that was; a lock error then logs
every writer still open with its age. A writer that held the lock longer than ``SLOW_SECONDS``
is logged when it ends. Only SQL text with placeholders is logged: never a bound value.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

SLOW_SECONDS = 5.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# id of the DBAPI connection -> (monotonic time of its transaction's first write, that statement)
_open_writers: dict[int, tuple[float, str]] = {}


def _first_words(statement: str) -> str:
    return " ".join(statement.split()[:6])


def _key(conn: Connection) -> int:
    return id(conn.connection.dbapi_connection)


def _before_execute(conn: Connection, _c: Any, statement: str, *_args: Any) -> None:
    key = _key(conn)
    if key not in _open_writers and statement.lstrip()[:7].upper().startswith(_WRITES):
        _open_writers[key] = (time.monotonic(), _first_words(statement))


def _ended(key: int, how: str) -> None:
    started = _open_writers.pop(key, None)
    if started is None:
        return
    held = time.monotonic() - started[0]
    if held >= SLOW_SECONDS:
        log.warning(
            "sqlite write lock held long", seconds=round(held, 1), first_write=started[1], end=how
        )


def holders() -> list[dict[str, object]]:
    """Every connection with an open write transaction, the oldest first."""
    now = time.monotonic()
    return [
        {"seconds": round(now - started, 1), "first_write": statement}
        for started, statement in sorted(_open_writers.values())
    ]


def _on_error(context: ExceptionContext) -> None:
    if "database is locked" not in str(context.original_exception):
        return
    waited = _first_words(context.statement or "")
    log.warning("sqlite database is locked", statement=waited, writers=holders())


def watch(engine: AsyncEngine) -> None:
    """Track ``engine``'s write transactions (SQLite engines only)."""
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", _before_execute)
    event.listen(sync, "commit", lambda conn: _ended(_key(conn), "commit"))
    event.listen(sync, "rollback", lambda conn: _ended(_key(conn), "rollback"))
    event.listen(sync, "handle_error", _on_error)
    # Returned to the pool, invalidated or closed without a commit or rollback event.
    for name in ("checkin", "invalidate", "close"):
        event.listen(
            sync.pool, name, lambda dbapi, *_a, _n=name: _ended(id(dbapi), _n), named=False
        )
