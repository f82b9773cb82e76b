"""Column types and field helpers for the SQL tables (``models/tables.py``): exact money, enums
stored by value, JSON lists and dicts, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlmodel import Field

CENT = Decimal("0.01")
# NUMERIC(18, 2): sixteen digits before the point.
MONEY_LIMIT = Decimal(10) ** 16


def utc_now() -> datetime:
    return datetime.now(UTC)


class MoneyType(sa.TypeDecorator[Decimal]):
    """NUMERIC(18, 2); on SQLite, integer minor units.

    SQLite has no decimal type: SQLAlchemy's Numeric goes through float there and loses digits.
    Integer cents keep every amount exact and still sort, compare and SUM correctly in SQL.
    Amounts with more than two decimal places are refused rather than rounded, on both backends.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(precision=18, scale=2, asdecimal=True)

    def __repr__(self) -> str:
        return "MoneyType()"

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = _exact_amount(value)
        return int(amount.scaleb(2)) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-2)
        return Decimal(value).quantize(CENT)


def _exact_amount(value: Decimal | int) -> Decimal:
    # bool is an int, and float would already have lost the cents: refuse both.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"money must be Decimal or int, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount != amount.quantize(CENT) or abs(amount) >= MONEY_LIMIT:
        raise ValueError(f"money must be finite, in cents, below 10**16: {value!r}")
    return amount.quantize(CENT)


def validate_currency(code: str) -> str:
    # The shape of an ISO 4217 code; which codes the lender trades in is the loan system's call.
    if len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
        raise ValueError(f"currency must be a three-letter ISO 4217 code such as CNY, not {code!r}")
    return code


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """A VARCHAR holding the enum's values, refusing unknown ones on write.

    Not a native PostgreSQL enum: adding a value would need a hand-written migration.
    """
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


def money_field(**kwargs: Any) -> Any:
    return Field(sa_type=MoneyType(), max_digits=18, decimal_places=2, **kwargs)


def json_list_field() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON)


def json_dict_field() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON)


def created_field() -> Any:
    return Field(default_factory=utc_now)


def updated_field() -> Any:
    # onupdate: any UPDATE through SQLAlchemy stamps the row, even when the caller forgets.
    return Field(default_factory=utc_now, sa_column_kwargs={"onupdate": utc_now})
