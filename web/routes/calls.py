"""Log a call (issue 13, worklist item): the operator's own phone call to the borrower, with
its outcome, notes and an optional promise, through the same update as
``POST /v1/cases/{loan_id}/contacts``. The contact rules count it; a call they would not have
allowed (hours, caps, opt-out, cease-contact) is refused with the core's sentence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api import vaulting
from api.case_ops import run_update
from api.errors import ApiError
from models import case as c
from models.common import case_id_for
from web import casefile
from web.pages import language, web_state
from web.routes.cases import LoanId, _case_page, _temporal
from web.session import Forbidden, Person, actor_of, check_csrf

router = APIRouter(include_in_schema=False)  # a screen, not the JSON API
OUTCOMES = tuple(c.ManualContactOutcome)
MAX_NOTES = 2000


def call_input(form: dict[str, str]) -> c.ManualContactInput | None:
    """The logged call from the form, or None where a field is missing or malformed."""
    try:
        outcome = c.ManualContactOutcome(form.get("outcome", ""))
    except ValueError:
        return None
    notes = form.get("notes", "").replace("\x00", "").strip()[:MAX_NOTES]
    promise = None
    if outcome is c.ManualContactOutcome.PROMISE:
        try:
            amount = Decimal(form.get("amount", "").strip())
            days = int(form.get("days", "").strip())
        except (InvalidOperation, ValueError):
            return None
        if amount <= 0 or not 0 <= days <= 3650:
            return None
        promise = c.PromiseTerms(amount=amount, due_in_days=days)
    return c.ManualContactInput(outcome=outcome, notes=notes, promise=promise)


@router.post("/cases/{loan_id}/calls")
async def log_call(request: Request, found: Person, loan_id: LoanId) -> Response:
    form = await check_csrf(request, found.csrf_token)
    if not casefile.may_write_notes(found.user.role):
        raise Forbidden("forbidden.role")
    inp = call_input(form)
    if inp is None:
        return await _case_page(request, found, loan_id, refusal="call.bad_input", status=422)
    inp = inp.model_copy(update={"actor": actor_of(found.user)})
    try:
        client = await _temporal(request)
        state = web_state(request)
        # DESIGN §10: the call's notes sealed before the case sees them
        inp = await vaulting.sealed_for_case(
            state.database, state.settings, case_id_for(loan_id), inp, "manual_contact"
        )
        await run_update(client, case_id_for(loan_id), c.UPDATE_MANUAL_CONTACT, inp)
    except ApiError as err:
        return await _case_page(
            request,
            found,
            loan_id,
            refusal=err.sentence(language(request, found.user)),
            status=err.status_code,
        )
    return RedirectResponse(f"/cases/{loan_id}?called=1", status_code=303)
