"""Database errors never put a borrower's name or phone in a log line (issue 16, item 5).

A real statement fails on each backend with the borrower's data among its bound parameters; the
error goes through the project's logging as the API logs it (``error=str(exc)`` and a traceback),
with SQLAlchemy's own SQL logging turned up to INFO as well. The captured lines name the
failure, and hold neither the name nor the phone number.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
import structlog

from activities.db import Database, upgrade_database
from api import store
from models.common import Borrower, Loan
from models.observability import configure_logging
from models.settings import Settings

NAME = "Wang Xiaofang"
PHONE = "+8613812345678"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(Settings(env="development", log_json=True, log_level="INFO"), stream=stream)
    engine_log = logging.getLogger("sqlalchemy.engine")
    level = engine_log.level
    engine_log.setLevel(logging.INFO)  # statements and parameters, were they not hidden
    try:
        yield stream
    finally:
        engine_log.setLevel(level)


def _borrower(name: str) -> Borrower:
    return Borrower(id="B-err-1", name=name, phone=PHONE, timezone="Asia/Shanghai", region="r")


def _loan() -> Loan:
    return Loan(
        loan_id="L-err-1",
        currency="CNY",
        amount_overdue=Decimal("10.00"),
        outstanding_balance=Decimal("10.00"),
        due_date=date(2026, 11, 20),
    )


async def _fail_upsert(database: Database, borrower: Borrower) -> None:
    log = structlog.get_logger("test.db")
    with pytest.raises(store.StoreUnavailable) as failed:
        await store.upsert_loan(database, _loan(), borrower, "default")
    log.error("loan upsert failed", loan_id="L-err-1", error=str(failed.value))
    log.error("unhandled error", exc_info=failed.value)


def _assert_clean(stream: io.StringIO, failure_words: str) -> None:
    text = stream.getvalue()
    assert failure_words in text, text[-2000:]  # the failure itself was logged
    assert NAME not in text and "Xiaofang" not in text
    assert PHONE not in text and PHONE[1:] not in text


@pytest.mark.postgres
async def test_a_refused_row_logs_no_name_or_phone_on_postgres(
    postgres_url: str, captured: io.StringIO
) -> None:
    """PostgreSQL refuses the row (a NUL in the name, as text columns do): the error and the
    SQL log lines say so without the parameters."""
    await asyncio.to_thread(upgrade_database, postgres_url)
    database = Database(postgres_url)
    try:
        await _fail_upsert(database, _borrower(f"{NAME}\x00"))  # PostgreSQL refuses NUL
        _assert_clean(captured, "0x00")
        # asyncpg's own text names a value it cannot encode; that is cut too.
        async with database.engine.connect() as connection:
            with pytest.raises(sa.exc.DBAPIError) as echoed:
                await connection.execute(sa.text("SELECT CAST(:n AS integer) + 1"), {"n": NAME})
        structlog.get_logger("test.db").error("query failed", error=str(echoed.value))
        _assert_clean(captured, "invalid input for query argument $1: (value hidden)")
    finally:
        await database.dispose()


async def test_a_refused_row_logs_no_name_or_phone_on_sqlite(
    sqlite_url: str, captured: io.StringIO
) -> None:
    """SQLite refuses the row (a trigger on the name): the same, on the other backend."""
    await asyncio.to_thread(upgrade_database, sqlite_url)
    database = Database(sqlite_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse_rows BEFORE INSERT ON borrowers "
                    "BEGIN SELECT RAISE(ABORT, 'borrower rows are refused here'); END"
                )
            )
        await _fail_upsert(database, _borrower(NAME))
        _assert_clean(captured, "borrower rows are refused here")
        assert "SQL parameters hidden" in captured.getvalue()
    finally:
        await database.dispose()
