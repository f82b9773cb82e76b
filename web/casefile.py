"""What the case page reads and does, on the API's own service layer.

The case state comes from ``api.case_ops.read_case`` (the ``state`` query, as ``GET
/v1/cases/{id}``), the timeline from ``audit.timeline`` (as ``/history``), the borrower from the
SQL master data. Borrower details are masked; revealing one is a note on the case (the
``notes`` update, actor = the person), so who, when and why stand in the history, the timeline
and the audit export.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import col, select
from temporalio.client import Client

from activities.db import Database
from activities.vault.store import Vault
from api.auth import Action, allowed
from api.case_ops import read_case, run_update
from api.vaulting import seal_free_text
from audit.timeline import TimelineEntry, build_timeline, fetch_case_histories
from models import case as c
from models.common import Actor, Role, case_id_for
from models.tables import Borrower, Loan

TIMELINE_SHOWN = 60


class Detail(StrEnum):  # phone first: the detail an operator most often needs
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"


def mask(detail: Detail, value: str) -> str:
    if not value:
        return ""
    if detail is Detail.PHONE:
        return value[:4] + "****" + value[-4:]
    if detail is Detail.NAME:
        return value[0] + "*" * (len(value) - 1)
    return value[:3] + "…"


@dataclass(frozen=True)
class BorrowerCard:
    id: str
    locale: str
    timezone: str
    region: str
    shown: dict[Detail, str]  # masked unless revealed in this answer
    revealed: frozenset[Detail]


async def borrower_of(db: Database, loan_id: str, vault: Vault | None = None) -> Borrower | None:
    async with db.session() as session:
        rows = await session.exec(
            select(Borrower)
            .join(Loan, col(Loan.borrower_id) == col(Borrower.id))
            .where(Loan.loan_id == loan_id)
        )
        found = rows.first()
    # DESIGN §10: the row holds ciphertext; the vault opens it for the card.
    return await vault.opened(found) if vault is not None and found is not None else found


def card(borrower: Borrower, revealed: frozenset[Detail] = frozenset()) -> BorrowerCard:
    values = {
        Detail.NAME: borrower.name,
        Detail.PHONE: borrower.phone,
        Detail.ADDRESS: borrower.address,
    }
    shown = {d: (v if d in revealed else mask(d, v)) for d, v in values.items()}
    return BorrowerCard(
        borrower.id, borrower.locale, borrower.timezone, borrower.region, shown, revealed
    )


def may_read(role: Role) -> bool:
    return allowed(role, Action.READ_CASE)


def may_write_notes(role: Role) -> bool:
    """Notes and reveals (a reveal is recorded as a note): the action table's NOTE roles."""
    return allowed(role, Action.NOTE)


async def state(client: Client, loan_id: str) -> c.CaseView:
    return await read_case(client, case_id_for(loan_id))


async def timeline(client: Client, loan_id: str) -> list[TimelineEntry]:
    entries = build_timeline(await fetch_case_histories(client, case_id_for(loan_id)))
    return list(reversed(entries[-TIMELINE_SHOWN:]))


async def add_note(
    client: Client, loan_id: str, actor: Actor, text: str, vault: Vault | None = None
) -> c.CaseView:
    inp = c.NoteInput(actor=actor, text=text)
    if vault is not None:  # DESIGN §10: the text sealed, only its reference to the case
        inp = await seal_free_text(vault, case_id_for(loan_id), inp, "note")
    return await run_update(client, case_id_for(loan_id), c.UPDATE_NOTE, inp)


def reveal_note(detail: Detail, reason: str) -> str:
    # No personal data in the note itself: it names the field, not its value.
    return f"revealed the borrower's {detail.value} — why: {reason}"
