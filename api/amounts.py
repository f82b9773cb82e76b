"""Amounts in an action body may not have more decimal places than the case's currency.

The body does not carry the currency (the case does), so the check looks it up, and only when
some amount is written with decimals at all: a whole number fits every currency. The loan row
written at the overdue event answers; without one the case's ``state`` query does.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from temporalio.client import Client

from api.case_ops import read_case
from api.deps import AppState
from models import tables as t
from models.common import case_id_for, places_problem, written_places


def decimal_fields(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Decimal]]:
    if isinstance(value, Decimal):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from decimal_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from decimal_fields(item, (*path, index))


async def case_currency(state: AppState, client: Client, loan_id: str) -> str:
    if state.database is not None:
        try:
            async with state.database.session() as session:
                statement = select(t.Loan.currency).where(t.Loan.loan_id == loan_id)
                found = (await session.exec(statement)).first()
        except SQLAlchemyError:  # the read model is a shortcut; the case itself answers
            found = None
        if found:
            return str(found)
    return (await read_case(client, case_id_for(loan_id))).currency


async def check_places(state: AppState, client: Client, loan_id: str, body: BaseModel) -> None:
    """422 naming each amount with more decimal places than the case's currency has."""
    amounts = [
        (path, value)
        for path, value in decimal_fields(body.model_dump(exclude={"actor"}))
        if written_places(value) > 0
    ]
    if not amounts:
        return
    currency = await case_currency(state, client, loan_id)
    errors = [
        {"loc": ("body", *path), "msg": problem, "type": "value_error"}
        for path, value in amounts
        if (problem := places_problem(value, currency))
    ]
    if errors:
        raise RequestValidationError(errors)
