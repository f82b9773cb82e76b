"""The API's side of the vault (DESIGN §10): an overdue event's personal data goes to SQL,
sealed; the case gets the borrower id, the phone's fingerprint and what the rules need.
Free text in an action is sealed under the borrower's key and replaced by its reference."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import select

from activities.db import Database
from activities.vault import dnc, texts
from activities.vault.store import Vault
from audit.timeline import TimelineEntry
from models import tables as t
from models.common import Borrower, Channel
from models.settings import Settings

M = TypeVar("M", bound=BaseModel)

# The free-text fields of actions that may name people, places or illnesses.
FREE_TEXT_FIELDS = ("text", "notes", "reason")


def vault_for(database: Database, settings: Settings) -> Vault:
    return Vault.from_settings(database, settings)


def case_borrower(borrower: Borrower, vault: Vault) -> Borrower:
    """The borrower as the case carries it: no name, phone, address or year of birth."""
    return Borrower.model_validate(
        {
            **borrower.model_dump(),
            "name": "",
            "phone": "",
            "address": "",
            "birth_year": None,
            "phone_ref": vault.phone_hmac(borrower.phone),
        }
    )


async def registered_channels(vault: Vault, phone: str) -> tuple[Channel, ...]:
    return tuple(sorted(await dnc.entries(vault.db, vault.phone_hmac(phone))))


async def borrower_of_case(database: Database, case_id: str) -> str | None:
    loan_id = case_id.removeprefix("case-")
    async with database.session() as session:
        found = (
            await session.exec(select(t.Loan.borrower_id).where(t.Loan.loan_id == loan_id))
        ).first()
    return None if found is None else str(found)


async def seal_free_text(vault: Vault, case_id: str, inp: Any, kind: str) -> Any:
    """``inp`` with each free-text field sealed and replaced by ``text:<id>`` (unchanged when
    the case's borrower is unknown here: nothing to seal it under)."""
    values = {
        name: getattr(inp, name)
        for name in FREE_TEXT_FIELDS
        # exactly str: a reason that is an enum (close, default reason) is no free text
        if type(getattr(inp, name, None)) is str and getattr(inp, name)
    }
    values = {k: v for k, v in values.items() if not texts.is_ref(v)}
    if not values:
        return inp
    borrower_id = await borrower_of_case(vault.db, case_id)
    if borrower_id is None:
        return inp
    sealed = {
        name: await texts.seal_text(vault, borrower_id, case_id, f"{kind}.{name}", text)
        for name, text in values.items()
    }
    return inp.model_copy(update=sealed)


async def sealed_for_case(
    database: Database | None, settings: Settings, case_id: str, inp: M, kind: str
) -> M:
    """``seal_free_text`` where the app has a database (the screens' actions call it too)."""
    if database is None:
        return inp
    sealed: M = await seal_free_text(vault_for(database, settings), case_id, inp, kind)
    return sealed


async def record_opt_out(
    vault: Vault, case_id: str, channels: list[Channel], reason: str, source: str
) -> None:
    """An opt-out into the register, by the case's borrower's phone fingerprint."""
    borrower_id = await borrower_of_case(vault.db, case_id)
    if borrower_id is None:
        return
    async with vault.db.session() as session:
        row = await session.get(t.Borrower, borrower_id)
    fingerprint = row.phone_hmac if row is not None else None
    if fingerprint is None and row is not None and row.phone:
        fingerprint = vault.phone_hmac(row.phone)
    if fingerprint:
        await dnc.register(vault.db, fingerprint, channels, reason, source)


async def opened_entries(vault: Vault, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Timeline entries for a reader: each ``text:<id>`` opened, ``[erased]`` once erased.
    (Exports keep the references: the record is what Temporal holds.)"""
    refs = [
        ref
        for e in entries
        for text in (e.summary, *e.details.values())
        for ref in texts.refs_in(text)
    ]
    if not refs:
        return entries
    opened = await texts.open_texts(vault, refs)

    def show(entry: TimelineEntry) -> TimelineEntry:
        details = {k: texts.replace_refs(v, opened) for k, v in entry.details.items()}
        summary = texts.replace_refs(entry.summary, opened)
        return entry.model_copy(update={"summary": summary, "details": details})

    return [show(e) for e in entries]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _replaced(value: Any, opened: dict[str, str]) -> Any:
    if isinstance(value, str):
        return texts.replace_refs(value, opened)
    if isinstance(value, dict):
        return {k: _replaced(v, opened) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, opened) for v in value]
    return value


async def opened_model(vault: Vault, model: M) -> M:
    """``model`` (a case view) with every ``text:<id>`` in it opened for the reader."""
    data = model.model_dump(mode="json")
    refs = [ref for text in _strings(data) for ref in texts.refs_in(text)]
    if not refs:
        return model
    opened = await texts.open_texts(vault, refs)
    return type(model).model_validate(_replaced(data, opened))
