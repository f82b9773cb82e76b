"""``collectflow loans import``: good rows in, bad rows reported by number and reason, idempotent.

The import function runs on SQLite and PostgreSQL (``database``); the command runs in-process
through Typer's runner, and once as a real process with ``--start-cases`` against the dev server.
"""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.db import Database, upgrade_database
from activities.loan_import import (
    ImportFileError,
    ImportReport,
    RowProblem,
    count_rows,
    import_loans,
    read_rows,
)
from activities.vault.store import Vault
from cli.main import app
from models import tables as t
from models.common import case_id_for
from models.settings import PROJECT_ROOT, Settings, get_settings
from tests.conftest import TEST_KEYRING_ENV
from tests.scan_helpers import good_row, scan_worker, terminate_cases, write_csv

SETTINGS = Settings(env="development")


def mixed_rows() -> list[dict[str, str]]:
    """Rows 2-4 good (two loans of one borrower), rows 5-9 one fault each."""
    first = good_row()
    same_borrower = good_row(
        **{k: first[k] for k in ("borrower_id", "name", "phone", "timezone", "region", "address")},
        amount_overdue="88.00",
    )
    english = good_row(phone="+14155550123", timezone="America/New_York", locale="en-US")
    return [
        first,
        same_borrower,
        english,
        good_row(phone="13800138000"),  # row 5: no +country
        good_row(timezone="Asia/Beijing"),  # row 6: not an IANA zone
        good_row(amount_overdue="-10.00"),  # row 7
        good_row(name=""),  # row 8
        good_row(due_date="2026-02-30"),  # row 9
    ]


async def _import(db: Database, path: Path) -> ImportReport:
    return await import_loans(db, read_rows(path), SETTINGS)


async def _loans(db: Database) -> dict[str, t.Loan]:
    async with db.session() as session:
        return {row.loan_id: row for row in await session.exec(select(t.Loan))}


async def _borrowers(db: Database) -> dict[str, t.Borrower]:
    """The borrowers as the vault opens them; the rows themselves hold no details in clear."""
    async with db.session() as session:
        rows = list(await session.exec(select(t.Borrower)))
    assert all(row.sealed and (row.name, row.phone, row.address) == ("", "", "") for row in rows)
    vault = Vault.from_settings(db, SETTINGS)
    return {row.id: await vault.opened(row) for row in rows}


async def test_good_rows_are_imported_and_bad_rows_reported(
    database: Database, tmp_path: Path
) -> None:
    rows = mixed_rows()
    path = write_csv(tmp_path / "loans.csv", rows)

    report = await _import(database, path)

    assert (report.rows, report.inserted, report.updated, report.unchanged) == (8, 3, 0, 0)
    assert not report.ok
    problems = {p.row: p for p in report.problems}
    assert sorted(problems) == [5, 6, 7, 8, 9]
    assert all(problems[n].loan_id == rows[n - 2]["loan_id"] for n in problems)
    assert "phone '13800138000'" in problems[5].reason and "E.164" in problems[5].reason
    assert "unknown IANA time zone 'Asia/Beijing'" in problems[6].reason
    assert "amount_overdue '-10.00': must be greater than zero" in problems[7].reason
    assert problems[8].reason == "missing value for name"
    assert problems[9].reason.startswith("due_date '2026-02-30': ")

    loans = await _loans(database)
    assert sorted(loans) == sorted(r["loan_id"] for r in rows[:3])
    first, second, english = (loans[r["loan_id"]] for r in rows[:3])
    assert (first.amount_overdue, first.outstanding_balance) == (
        Decimal("1530.50"),
        Decimal("9800"),
    )
    assert second.amount_overdue == Decimal("88.00")
    assert first.borrower_id == second.borrower_id
    assert {loan.status for loan in loans.values()} == {t.LoanStatus.OPEN}
    assert {loan.strategy_id for loan in loans.values()} == {"default"}
    borrowers = await _borrowers(database)
    assert len(borrowers) == 2
    b = borrowers[english.borrower_id]
    assert (b.phone, b.timezone, b.locale, b.consent_sms, b.consent_call) == (
        "+14155550123",
        "America/New_York",
        "en",  # the contract's spelling
        True,
        False,
    )


async def test_importing_the_same_file_again_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    rows = mixed_rows()
    path = write_csv(tmp_path / "loans.csv", rows)
    first = await _import(database, path)
    before_loans = {k: v.model_dump() for k, v in (await _loans(database)).items()}
    before_borrowers = {k: v.model_dump() for k, v in (await _borrowers(database)).items()}
    # A loan paid since the file was made stays paid: an old file does not reopen it.
    async with database.session() as session:
        paid = await session.get(t.Loan, rows[0]["loan_id"])
        assert paid is not None
        paid.status = t.LoanStatus.PAID
        session.add(paid)
        await session.commit()
    before_loans[rows[0]["loan_id"]] = (await _loans(database))[rows[0]["loan_id"]].model_dump()

    second = await _import(database, path)

    assert (second.rows, second.inserted, second.updated, second.unchanged) == (8, 0, 0, 3)
    assert second.problems == first.problems
    after_loans = {k: v.model_dump() for k, v in (await _loans(database)).items()}
    assert after_loans == before_loans  # updated_at included: nothing was written
    assert {k: v.model_dump() for k, v in (await _borrowers(database)).items()} == before_borrowers
    assert after_loans[rows[0]["loan_id"]]["status"] is t.LoanStatus.PAID


async def test_a_changed_row_updates_its_loan_and_borrower(
    database: Database, tmp_path: Path
) -> None:
    row = good_row()
    await _import(database, write_csv(tmp_path / "v1.csv", [row]))
    changed = row | {"amount_overdue": "2000.00", "phone": "+8613900139000"}

    report = await _import(database, write_csv(tmp_path / "v2.csv", [changed]))

    assert (report.inserted, report.updated, report.unchanged, report.ok) == (0, 1, 0, True)
    loan = (await _loans(database))[row["loan_id"]]
    assert loan.amount_overdue == Decimal("2000.00")
    assert (await _borrowers(database))[row["borrower_id"]].phone == "+8613900139000"


async def test_contradictions_within_a_file_are_reported(
    database: Database, tmp_path: Path
) -> None:
    first = good_row()
    again = dict(first)  # row 3: the same loan twice
    other_phone = good_row(borrower_id=first["borrower_id"], phone="+8613900139000")  # row 4
    short = {k: first[k] for k in ("loan_id", "currency")}  # row 5: written below
    path = write_csv(tmp_path / "loans.csv", [first, again, other_phone])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{short['loan_id']},{short['currency']}\n\n")  # and a blank line

    report = await _import(database, path)

    assert (report.rows, report.inserted) == (4, 1)
    assert report.problems == [
        RowProblem(3, first["loan_id"], f"loan {first['loan_id']} is already on row 2"),
        RowProblem(
            4,
            other_phone["loan_id"],
            f"borrower {first['borrower_id']} has other details on row 2 (phone differ)",
        ),
        RowProblem(5, first["loan_id"], "has 2 values, the header has 14 columns"),
    ]


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("loan_id,currency\nL-1,CNY\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"missing column.*amount_overdue"):
        count_rows(missing)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ImportFileError, match="empty"):
        count_rows(empty)
    latin1 = write_csv(tmp_path / "latin1.csv", [good_row(name="José", address="Rua 1")])
    latin1.write_bytes(latin1.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        count_rows(latin1)


def test_a_bom_and_header_case_are_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "excel.csv", [good_row()])
    text = path.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    path.write_text("\ufeff" + header.upper() + "\n" + rest, encoding="utf-8")
    [row] = list(read_rows(path))
    assert (row.row, row.problem) == (2, None)


# ---------------------------------------------------------------- the command


def _invoke(*args: str) -> tuple[int, str]:
    get_settings.cache_clear()  # read again with the environment below
    try:
        env = {"COLUMNS": "200", "COLLECTFLOW_ENV": "development"}
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_the_command_imports_and_exits_1_when_rows_are_bad(sqlite_url: str, tmp_path: Path) -> None:
    upgrade_database(sqlite_url)
    rows = mixed_rows()
    path = write_csv(tmp_path / "loans.csv", rows)

    status, output = _invoke("loans", "import", str(path), "--database-url", sqlite_url)

    assert status == 1, output
    assert "8 rows: 3 imported (3 new, 0 updated, 0 unchanged), 5 bad" in output
    assert "Bad rows" in output
    for number in range(5, 10):
        assert rows[number - 2]["loan_id"] in output
    assert "Asia/Beijing" in output and "must be greater than zero" in output

    good = write_csv(tmp_path / "good.csv", rows[:3])
    status, output = _invoke("loans", "import", str(good), "--database-url", sqlite_url)
    assert status == 0, output
    assert "3 rows: 3 imported (0 new, 0 updated, 3 unchanged), 0 bad" in output
    assert "Bad rows" not in output


def test_the_command_exits_2_for_a_file_it_cannot_import(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("id,amount\n1,2\n", encoding="utf-8")
    status, output = _invoke("loans", "import", str(path), "--database-url", sqlite_url)
    assert status == 2
    assert "missing column(s) loan_id" in output


@pytest.mark.integration
async def test_start_cases_runs_one_scan_after_the_import(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    tmp_path: Path,
    task_queue: str,
    messaging_queue: str,
) -> None:
    """The real command in its own process: import, then one OverdueScan run on the worker
    polling ``task_queue``; the past-due loans get their cases (on ``messaging_queue``, which
    stands for the case queue here and is not polled)."""
    await asyncio.to_thread(upgrade_database, sqlite_url)
    rows = [good_row(), good_row()]
    path = write_csv(tmp_path / "loans.csv", rows)
    env = os.environ | {
        "COLLECTFLOW_ENV": "development",
        **TEST_KEYRING_ENV,  # the test server's payload keys
        "COLLECTFLOW_DATABASE_URL": sqlite_url,
        "COLLECTFLOW_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "COLLECTFLOW_TASK_QUEUE": task_queue,
        "COLLECTFLOW_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    loan_ids = [r["loan_id"] for r in rows]
    try:
        async with scan_worker(dev_env.client, sqlite_url, task_queue, messaging_queue):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli.main",
                "loans",
                "import",
                str(path),
                "--start-cases",
                "--wait-seconds",
                "60",
                cwd=PROJECT_ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            raw, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        output = raw.decode()
        assert process.returncode == 0, output
        assert "2 rows: 2 imported (2 new" in output
        assert "2 cases started" in output
        for loan_id in loan_ids:
            described = await dev_env.client.get_workflow_handle(case_id_for(loan_id)).describe()
            assert described.workflow_type == "CollectionCase"
        db = Database(sqlite_url)
        try:
            async with db.session() as session:
                found = await session.exec(select(t.Loan).where(col(t.Loan.loan_id).in_(loan_ids)))
                assert len(found.all()) == 2
        finally:
            await db.dispose()
    finally:
        await terminate_cases(dev_env.client, loan_ids)
