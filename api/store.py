"""The API's few SQL statements: upsert the loan and borrower of an overdue event, find the
open cases of a phone number, and a ping for health checks.

Upserts are single ``INSERT ... ON CONFLICT DO UPDATE`` statements, so fifty concurrent events
for one loan never race into a duplicate-key error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from activities.db import Database
from activities.sql import insert_for, table_of
from activities.vault.store import Vault
from models import tables as t
from models.common import TERMINAL_STAGES, Borrower, Loan, case_id_for

MAX_CASES_PER_PHONE = 20


class StoreUnavailable(Exception):
    """The database could not be reached or refused the statement."""


async def upsert_loan(
    db: Database, loan: Loan, borrower: Borrower, strategy_id: str, vault: Vault | None = None
) -> str:
    """Insert or refresh the borrower and the loan; the loan is open again.

    Returns the strategy the loan row holds afterwards (``strategy_id`` for a new loan), so a
    caller that starts a case only writes it again when it differs.
    """
    now = datetime.now(UTC)
    borrowers, loans = table_of(t.Borrower), table_of(t.Loan)
    borrower_row: Mapping[str, Any] = {
        "id": borrower.id,
        "name": borrower.name,
        "phone": borrower.phone,
        "timezone": borrower.timezone,
        "locale": borrower.locale,
        "region": borrower.region,
        "address": borrower.address,
        "consent_sms": borrower.consent.sms,
        "consent_call": borrower.consent.call,
        "birth_year": borrower.birth_year,
        "created_at": now,
        "updated_at": now,
    }
    loan_row: Mapping[str, Any] = {
        "loan_id": loan.loan_id,
        "borrower_id": borrower.id,
        "currency": loan.currency,
        "amount_overdue": loan.amount_overdue,
        "outstanding_balance": loan.outstanding_balance,
        "due_date": loan.due_date,
        "status": t.LoanStatus.OPEN.value,
        "strategy_id": strategy_id,
        "created_at": now,
        "updated_at": now,
    }
    insert_loan = insert_for(db, loans).values(**loan_row)
    # The strategy of a loan is the one its current case runs: set on insert, and by
    # set_loan_strategy when a new case starts; never by an event for an open case.
    refreshed = ("borrower_id", "currency", "amount_overdue", "outstanding_balance", "due_date")
    insert_loan = insert_loan.on_conflict_do_update(
        index_elements=[loans.c.loan_id],
        set_={
            **{k: insert_loan.excluded[k] for k in refreshed},
            "status": t.LoanStatus.OPEN.value,
            "updated_at": now,
        },
    ).returning(loans.c.strategy_id)
    try:
        async with db.session() as session:
            if vault is not None:  # DESIGN §10: the row holds ciphertext and a fingerprint
                sealed = await vault.borrower_columns(session, borrower)
                borrower_row = {**borrower_row, **sealed}
            insert_borrower = _upsert_borrower(db, borrowers, borrower_row)
            await session.exec(insert_borrower)  # the parent first: loans reference it
            stored = (await session.exec(insert_loan)).scalar_one()
            await session.commit()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return str(stored)


def _upsert_borrower(db: Database, borrowers: sa.Table, row: Mapping[str, Any]) -> Any:
    insert = insert_for(db, borrowers).values(**row)
    return insert.on_conflict_do_update(
        index_elements=[borrowers.c.id],
        set_={k: insert.excluded[k] for k in row if k != "created_at"},
    )


async def set_loan_strategy(db: Database, loan_id: str, strategy_id: str) -> None:
    loans = table_of(t.Loan)
    statement = (
        sa.update(loans)
        .where(loans.c.loan_id == loan_id)
        .values(strategy_id=strategy_id, updated_at=datetime.now(UTC))
    )
    try:
        async with db.session() as session:
            await session.exec(statement)
            await session.commit()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc


async def open_case_ids_for_phone(
    db: Database, phone: str, phone_hmac: str | None = None
) -> list[str]:
    """Case ids of the open loans of every borrower with this phone number.

    A loan counts as open unless the case read model already shows a terminal stage; the
    caller skips cases whose workflow turns out to be closed.
    """
    terminal = [stage.value for stage in TERMINAL_STAGES]
    statement = (
        select(t.Loan.loan_id)
        .join(t.Borrower, col(t.Borrower.id) == col(t.Loan.borrower_id))
        .outerjoin(t.Case, col(t.Case.loan_id) == col(t.Loan.loan_id))
        # Vaulted borrowers are found by the phone's keyed fingerprint, older rows by the number.
        .where(
            sa.or_(
                col(t.Borrower.phone) == phone, col(t.Borrower.phone_hmac) == (phone_hmac or "-")
            )
        )
        .where(t.Loan.status == t.LoanStatus.OPEN)
        .where(sa.or_(col(t.Case.stage).is_(None), col(t.Case.stage).not_in(terminal)))
        .order_by(col(t.Loan.loan_id))
        .limit(MAX_CASES_PER_PHONE)
    )
    try:
        async with db.session() as session:
            rows = (await session.exec(statement)).all()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return [case_id_for(loan_id) for loan_id in rows]


async def ping(db: Database) -> None:
    try:
        async with db.session() as session:
            await session.exec(select(sa.literal(1)))
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc


async def locale_for_case(db: Database, case_id: str) -> str | None:
    """The borrower's locale for a case id (``case-{loan_id}``), or None when unknown."""
    loan_id = case_id.removeprefix("case-")
    statement = (
        select(t.Borrower.locale)
        .join(t.Loan, col(t.Loan.borrower_id) == col(t.Borrower.id))
        .where(t.Loan.loan_id == loan_id)
    )
    try:
        async with db.session() as session:
            locale = (await session.exec(statement)).first()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return None if locale is None else str(locale)
