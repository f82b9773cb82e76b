"""Bulk onboarding of overdue loans from a CSV file (``collectflow loans import``).

A plain function over a :class:`Database`, not an activity: the command calls it directly.

Each row is checked against the same contracts an overdue event is (``models.common``: E.164
phone, IANA zone, positive amount overdue, ISO currency code, supported locale, a real date).
A bad row is reported with its row number and the reason, and the import goes on with the next.
A good row is written with the API's own upsert (``api.store.upsert_loan``: borrower, then loan,
each one ``INSERT ... ON CONFLICT DO UPDATE``), but only when it differs from what the database
already holds: importing the same file twice writes nothing the second time, and a loan that
has since been paid is not reopened by an old file. A row that does change a loan writes it as
an overdue event would (the loan is open again).

Rows are numbered as a spreadsheet shows them: the header is row 1, the first loan row 2.
Within one file a loan may appear once, and every row naming a borrower must give the same
details: a later row that contradicts an earlier one is reported rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from activities.db import Database
from activities.loan_csv import (
    COLUMNS,
    CsvRow,
    ImportFileError,
    RowInvalid,
    count_rows,
    parse_row,
    read_rows,
)
from activities.vault.store import Vault
from api.store import StoreUnavailable, upsert_loan
from models import tables as t
from models.common import Borrower, Loan
from models.settings import Settings
from models.strategy import choose_strategy

# The file's side (columns, reading, checking a row) is ``activities.loan_csv``; its names are
# part of this module's interface too.
__all__ = [
    "COLUMNS",
    "ImportAborted",
    "ImportFileError",
    "ImportReport",
    "RowProblem",
    "count_rows",
    "import_loans",
    "read_rows",
]

BATCH_SIZE = 500


@dataclass(frozen=True)
class RowProblem:
    row: int
    loan_id: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Good rows: now in the database as the file has them."""
        return self.inserted + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return not self.problems


class ImportAborted(Exception):
    """The database failed mid-import; ``report`` says what was done before."""

    def __init__(self, reason: str, report: ImportReport) -> None:
        super().__init__(reason)
        self.report = report


# ---------------------------------------------------------------- writing


# What the database holds for a borrower or a loan, in the terms a row can change.
BorrowerKey = tuple[str, str, str, str, str, str, bool, bool]
LoanKey = tuple[str, str, Decimal, Decimal, date]


def _borrower_key(b: Borrower) -> BorrowerKey:
    return (
        b.name,
        b.phone,
        b.timezone,
        b.locale,
        b.region,
        b.address,
        b.consent.sms,
        b.consent.call,
    )


def _borrower_row_key(b: t.Borrower) -> BorrowerKey:
    return (
        b.name,
        b.phone,
        b.timezone,
        b.locale,
        b.region,
        b.address,
        b.consent_sms,
        b.consent_call,
    )


def _loan_key(loan: Loan, borrower_id: str) -> LoanKey:
    return (
        borrower_id,
        loan.currency,
        loan.amount_overdue,
        loan.outstanding_balance,
        loan.due_date,
    )


def _loan_row_key(loan: t.Loan) -> LoanKey:
    return (
        loan.borrower_id,
        loan.currency,
        loan.amount_overdue,
        loan.outstanding_balance,
        loan.due_date,
    )


@dataclass
class _Seen:
    """What earlier rows of this file said, and what the database holds after them."""

    loan_rows: dict[str, int] = field(default_factory=dict)
    borrower_rows: dict[str, tuple[int, BorrowerKey]] = field(default_factory=dict)
    borrowers: dict[str, BorrowerKey] = field(default_factory=dict)
    loans: dict[str, LoanKey] = field(default_factory=dict)


async def import_loans(
    db: Database,
    rows: Iterable[CsvRow],
    settings: Settings,
    *,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate and upsert every row; bad rows go into the report and do not stop the others.

    A new loan gets the strategy champion/challenger assigns it (as the API and the scan do).
    Raises ImportAborted when the database fails, with what was done so far.
    """
    report = ImportReport()
    seen = _Seen()
    vault = Vault.from_settings(db, settings)  # DESIGN §10: borrowers' details go in sealed
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_SIZE)):
        good: list[tuple[CsvRow, Loan, Borrower]] = []
        for row in batch:
            report.rows += 1
            try:
                loan, borrower = _check(row, seen)
            except RowInvalid as exc:
                loan_id = row.values.get("loan_id", "")
                report.problems.append(RowProblem(row.row, loan_id, str(exc)))
                _tick(on_row)
                continue
            good.append((row, loan, borrower))
        try:
            await _load(db, good, seen, vault)
            for _, loan, borrower in good:
                await _write(db, loan, borrower, settings, seen, report, vault)
                _tick(on_row)
        except (SQLAlchemyError, StoreUnavailable) as exc:
            raise ImportAborted(f"the database failed: {exc}", report) from exc
        seen.loans.clear()  # a loan is on one row only; borrowers may come back later
    return report


def _tick(on_row: Callable[[], None] | None) -> None:
    if on_row is not None:
        on_row()


def _check(row: CsvRow, seen: _Seen) -> tuple[Loan, Borrower]:
    if row.problem is not None:
        raise RowInvalid(row.problem)
    loan, borrower = parse_row(row.values)
    first = seen.loan_rows.setdefault(loan.loan_id, row.row)
    if first != row.row:
        raise RowInvalid(f"loan {loan.loan_id} is already on row {first}")
    key = _borrower_key(borrower)
    earlier = seen.borrower_rows.setdefault(borrower.id, (row.row, key))
    if earlier[1] != key:
        del seen.loan_rows[loan.loan_id]  # this row did not import the loan
        raise RowInvalid(
            f"borrower {borrower.id} has other details on row {earlier[0]} "
            f"({', '.join(_differences(earlier[1], key))} differ)"
        )
    return loan, borrower


# The borrower's columns after its id, in the file's order (derived: one list of columns).
_BORROWER_FIELDS = COLUMNS[COLUMNS.index("name") :]


def _differences(a: BorrowerKey, b: BorrowerKey) -> list[str]:
    return [name for name, x, y in zip(_BORROWER_FIELDS, a, b, strict=True) if x != y]


async def _load(
    db: Database, good: list[tuple[CsvRow, Loan, Borrower]], seen: _Seen, vault: Vault
) -> None:
    """What the database holds for this batch's loans and borrowers (not yet seen)."""
    loan_ids = [loan.loan_id for _, loan, _ in good if loan.loan_id not in seen.loans]
    borrower_ids = list({b.id for _, _, b in good if b.id not in seen.borrowers})
    async with db.session() as session:
        if loan_ids:
            found = await session.exec(select(t.Loan).where(col(t.Loan.loan_id).in_(loan_ids)))
            seen.loans.update({row.loan_id: _loan_row_key(row) for row in found})
        if borrower_ids:
            statement = select(t.Borrower).where(col(t.Borrower.id).in_(borrower_ids))
            found_b = list(await session.exec(statement))
    opened = [await vault.opened(row) for row in found_b] if borrower_ids else []
    seen.borrowers.update({row.id: _borrower_row_key(row) for row in opened})


async def _write(
    db: Database,
    loan: Loan,
    borrower: Borrower,
    settings: Settings,
    seen: _Seen,
    report: ImportReport,
    vault: Vault,
) -> None:
    loan_key, borrower_key = _loan_key(loan, borrower.id), _borrower_key(borrower)
    held = seen.loans.get(loan.loan_id)
    if held == loan_key and seen.borrowers.get(borrower.id) == borrower_key:
        report.unchanged += 1
        return
    strategy = choose_strategy(
        loan.loan_id,
        settings.default_strategy,
        settings.challenger_strategy,
        settings.challenger_share,
    )
    await upsert_loan(db, loan, borrower, strategy, vault)
    seen.loans[loan.loan_id] = loan_key
    seen.borrowers[borrower.id] = borrower_key
    if held is None:
        report.inserted += 1
    else:
        report.updated += 1
