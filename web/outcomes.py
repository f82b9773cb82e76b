"""Recording what happened at the door, on the API's own service layer, exactly once.

Each submission carries a client-made reference (``ref``): the page makes one per form, and an
outcome queued offline keeps its own. It travels twice: as the Temporal update id (as the API
forms it from an ``Idempotency-Key``: ``visit_outcome:<ref>``), which makes a resend within the
case's run a no-op, and as a marker in the notes the case keeps (``[ref:…]``) — visit notes,
negotiation notes, case notes — which survive continue-as-new, so a resend after the case moved
to a new run is recognised from its state and skipped. What the collector wrote is sealed under
the borrower's key (DESIGN §10): the case holds ``text:<id> [ref:…]``, the marker in clear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client

from api.amounts import check_places
from api.auth import Action, allowed
from api.case_ops import read_case, run_update
from api.deps import AppState
from api.errors import ApiError
from api.vaulting import sealed_for_case
from models import case as c
from models.common import Actor, Stage, case_id_for

REF_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def marker(ref: str) -> str:
    return f"[ref:{ref}]"


def recorded(view: c.CaseView, ref: str) -> set[str]:
    """Which parts of submission ``ref`` the case already holds: visit, negotiation, note."""
    mark = marker(ref)
    found = set()
    if any(mark in v.notes for v in view.visits):
        found.add("visit")
    if any(mark in n.details.get("notes", "") for n in view.negotiations):
        found.add("negotiation")
    if any(mark in n.text for n in view.notes):
        found.add("note")
    return found


def met_awaiting_terms(view: c.CaseView) -> bool:
    """The last visit met the borrower and the case waits for the negotiation's result: an
    outcome whose terms were refused is completed by sending the terms again."""
    last = view.visits[-1] if view.visits else None
    met = last is not None and last.outcome is c.VisitOutcome.MET
    return met and view.stage is Stage.NEGOTIATING


def _met_is_there(view: c.CaseView, outcome: Outcome, done: set[str]) -> bool:
    """ "met" with terms, and the case has "met" already: sending the terms again completes
    an outcome whose terms were refused, or the terms are there too (a resend of it)."""
    last_met = bool(view.visits) and view.visits[-1].outcome is c.VisitOutcome.MET
    if outcome.outcome is not c.VisitOutcome.MET or outcome.negotiation is None or not last_met:
        return False
    return met_awaiting_terms(view) or "negotiation" in done


@dataclass(frozen=True)
class Outcome:
    ref: str
    outcome: c.VisitOutcome
    notes: str = ""
    checked_in_at: datetime | None = None
    negotiation: c.NegotiationInput | None = None  # after "met": reason, means, the result


def refuse(role: Actor, action: Action) -> None:
    if not allowed(role.role, action):
        raise ApiError(403, f"role '{role.role.value}' may not {action.value.replace('_', ' ')}")


async def _update(
    state: AppState, client: Client, loan_id: str, action: Action, update: str,
    inp: c.ActorAction, ref: str,
) -> c.CaseView:  # fmt: skip
    await check_places(state, client, loan_id, inp)
    return await run_update(
        client, case_id_for(loan_id), update, inp, update_id=f"{action.value}:{ref}"
    )


async def _sealed(state: AppState, loan_id: str, text: str, kind: str) -> str:
    """The collector's words sealed, as a reference (unchanged without a database)."""
    if not text:
        return ""
    sealed = await sealed_for_case(
        state.database, state.settings, case_id_for(loan_id), c.NoteInput(text=text), kind
    )
    return sealed.text


async def record_outcome(
    state: AppState, client: Client, loan_id: str, actor: Actor, outcome: Outcome
) -> tuple[c.CaseView, bool]:
    """The visit outcome, then (after "met") the negotiation; True when all was already there."""
    refuse(actor, Action.VISIT_OUTCOME)
    view = await read_case(client, case_id_for(loan_id))
    done = recorded(view, outcome.ref)
    if _met_is_there(view, outcome, done):
        done.add("visit")
    wanted = {"visit"} | ({"negotiation"} if outcome.negotiation else set())
    if wanted <= done:
        return view, True
    tag = marker(outcome.ref)
    if "visit" not in done:
        checked = (
            f"checked in {outcome.checked_in_at.isoformat()}; " if outcome.checked_in_at else ""
        )
        written = await _sealed(state, loan_id, outcome.notes, "visit_outcome")
        notes = f"{checked}{written} {tag}".strip()
        inp = c.RecordVisitInput(actor=actor, outcome=outcome.outcome, notes=notes[-4000:])
        view = await _update(
            state, client, loan_id, Action.VISIT_OUTCOME, c.UPDATE_RECORD_VISIT, inp, outcome.ref
        )
    if outcome.negotiation is not None and "negotiation" not in done:
        refuse(actor, Action.NEGOTIATION)
        written = await _sealed(state, loan_id, outcome.negotiation.notes, "negotiation")
        text = f"{written} {tag}".strip()[-4000:]
        inp_n = outcome.negotiation.model_copy(update={"actor": actor, "notes": text})
        view = await _update(
            state, client, loan_id, Action.NEGOTIATION, c.UPDATE_NEGOTIATION, inp_n, outcome.ref
        )
    return view, False


async def add_note_once(
    state: AppState, client: Client, loan_id: str, actor: Actor, text: str, ref: str
) -> tuple[c.CaseView, bool]:
    """A note (check-in, evidence) with its reference; a resend adds nothing."""
    refuse(actor, Action.NOTE)
    view = await read_case(client, case_id_for(loan_id))
    if "note" in recorded(view, ref):
        return view, True
    inp = c.NoteInput(actor=actor, text=f"{text} {marker(ref)}"[:4000])
    return await _update(state, client, loan_id, Action.NOTE, c.UPDATE_NOTE, inp, ref), False
