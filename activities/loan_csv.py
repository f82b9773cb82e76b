"""Reading and checking a loans CSV file (``collectflow loans import``): the columns, each
row split and checked against the same contracts an overdue event is (``models.common``), with
every bad column named. Writing the good rows is ``activities.loan_import``'s.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first loan row 2.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.common import Borrower, Consent, Loan

COLUMNS = (
    "loan_id",
    "currency",
    "amount_overdue",
    "outstanding_balance",
    "due_date",
    "borrower_id",
    "name",
    "phone",
    "timezone",
    "locale",
    "region",
    "address",
    "consent_sms",
    "consent_call",
)
# Cells that may be left empty: locale (zh-CN), address (none) and consent (no consent: automated
# contact needs the loan system to say the borrower agreed).
OPTIONAL = frozenset({"locale", "address", "consent_sms", "consent_call"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
MAX_SHOWN_VALUE = 40

# The file's name for a contract's field, where they differ.
_LOAN_COLUMNS: dict[str, str] = {}
_BORROWER_COLUMNS = {"id": "borrower_id"}


class ImportFileError(Exception):
    """The file as a whole cannot be imported: unreadable, not UTF-8, or a column is missing."""


class RowInvalid(ValueError):
    """One row's reason for being refused."""


@dataclass(frozen=True)
class CsvRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    values: dict[str, str]
    problem: str | None = None  # the row could not be split into the header's columns


# ---------------------------------------------------------------- reading the file


def read_rows(path: Path) -> Iterator[CsvRow]:
    """The file's loan rows; blank lines are skipped. Raises ImportFileError for a file that
    cannot be read, is not UTF-8 (a BOM is fine), or lacks a column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = _header(next(reader, None))
            for number, record in enumerate(reader, start=2):
                if not any(cell.strip() for cell in record):
                    continue
                yield _row(number, header, record)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    except csv.Error as exc:
        raise ImportFileError(f"{path} is not a readable CSV file: {exc}") from exc
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def count_rows(path: Path) -> int:
    """How many loan rows :func:`read_rows` will yield; reads (and so checks) the whole file."""
    return sum(1 for _ in read_rows(path))


def _header(record: Sequence[str] | None) -> list[str]:
    if record is None:
        raise ImportFileError(f"the file is empty; the first row must name the columns: {_cols()}")
    header = [cell.strip().lower() for cell in record]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ImportFileError(f"missing column(s) {', '.join(missing)}; expected {_cols()}")
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ImportFileError(f"column(s) named twice: {', '.join(repeated)}")
    return header


def _cols() -> str:
    return ",".join(COLUMNS)


def _row(number: int, header: list[str], record: list[str]) -> CsvRow:
    values = {name: cell.strip() for name, cell in zip(header, record, strict=False) if name}
    if len(record) != len(header):
        problem = f"has {len(record)} values, the header has {len(header)} columns"
        return CsvRow(number, values, problem)
    return CsvRow(number, values)


# ---------------------------------------------------------------- checking a row


def parse_row(values: Mapping[str, str]) -> tuple[Loan, Borrower]:
    """The loan and borrower a row describes, or RowInvalid naming every bad column."""
    reasons: list[str] = []
    missing = [name for name in COLUMNS if name not in OPTIONAL and not values.get(name)]
    if missing:
        reasons.append(f"missing value for {', '.join(missing)}")
    consent: dict[str, bool] = {}
    for channel in ("sms", "call"):
        column = f"consent_{channel}"
        try:
            consent[channel] = _yes_no(values.get(column, ""))
        except ValueError as exc:
            reasons.append(f"{column}: {exc}")
    loan = borrower = None
    loan_data = {name: values.get(name, "") for name in Loan.model_fields}
    try:
        loan = Loan.model_validate(_present(loan_data))
    except ValidationError as exc:
        reasons += _reasons(exc, _LOAN_COLUMNS, values, missing)
    borrower_data: dict[str, Any] = {
        "id": values.get("borrower_id", ""),
        "name": values.get("name", ""),
        "phone": values.get("phone", ""),
        "timezone": values.get("timezone", ""),
        "locale": values.get("locale", ""),
        "region": values.get("region", ""),
        "address": values.get("address", ""),
    }
    try:
        borrower = Borrower.model_validate(
            _present(borrower_data) | {"consent": Consent(**consent)}
        )
    except ValidationError as exc:
        reasons += _reasons(exc, _BORROWER_COLUMNS, values, missing)
    if reasons or loan is None or borrower is None:
        raise RowInvalid("; ".join(reasons) or "invalid row")
    return loan, borrower


def _present(data: dict[str, Any]) -> dict[str, Any]:
    """Empty cells left out: optional fields take their defaults, required ones are missing."""
    return {k: v for k, v in data.items() if v != ""}


def _yes_no(cell: str) -> bool:
    word = cell.strip().lower()
    if not word or word in FALSE_WORDS:
        return False
    if word in TRUE_WORDS:
        return True
    raise ValueError(f"{_shown(cell)} is not yes/no (true/false, 1/0)")


def _reasons(
    exc: ValidationError, columns: Mapping[str, str], values: Mapping[str, str], missing: list[str]
) -> list[str]:
    reasons = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        column = columns.get(name, name)
        if column in missing:  # already said
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        cell = values.get(column, "")
        reasons.append(f"{column} {_shown(cell)}: {message}" if cell else f"{column}: {message}")
    return reasons


def _shown(cell: str) -> str:
    text = cell if len(cell) <= MAX_SHOWN_VALUE else cell[: MAX_SHOWN_VALUE - 1] + "…"
    return repr(text)
