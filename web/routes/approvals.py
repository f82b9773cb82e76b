"""Change requests, end to end: an operator asks on the case page (amount correction or close,
with why); a supervisor approves or declines on ``/approvals``, with a note.

Both are the case's own actions (``request_change`` and ``decide_request``, the API's
``POST /v1/cases/{id}/requests`` and ``.../requests/{no}/decision``), run on the same service
layer with the person as actor; the case's refusal is shown inline in the viewer's language.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api import vaulting
from api.amounts import check_places
from api.auth import Action, allowed
from api.case_ops import run_update
from api.deps import AppState
from api.errors import ApiError
from models import case as c
from models.common import Role, case_id_for
from web import approvals
from web.accounts import SessionUser
from web.i18n import Translator
from web.outcomes import REF_PATTERN
from web.pages import language, render, web_state
from web.plans import money
from web.routes.cases import LoanId, _case_page
from web.session import Forbidden, Person, actor_of, check_csrf, person_with

router = APIRouter(include_in_schema=False)
Supervisors = Depends(person_with(Role.SUPERVISOR, Role.ADMIN))
RequestNo = Annotated[int, Path(ge=1, le=100_000)]
VERDICTS = ("approved", "declined")
CLOSE_REASONS = tuple(r.value for r in c.CloseReason)


def _clean(text: str | None, limit: int = 2000) -> str:
    return " ".join((text or "").replace("\x00", "").split())[:limit]


async def _api_run(
    request: Request, loan_id: str, update: str, inp: c.ActorAction, ref: str
) -> None:
    """The action on the case, its amounts checked against the currency as the API does."""
    api: AppState = request.app.state.collectflow
    client = await api.temporal()
    await check_places(api, client, loan_id, inp)
    update_id = f"{update}:{ref}" if REF_PATTERN.fullmatch(ref) else None
    # DESIGN §10: a request's reason and a decision's note may name people: sealed first.
    case_id = case_id_for(loan_id)
    inp = await vaulting.sealed_for_case(api.database, api.settings, case_id, inp, update)
    await run_update(client, case_id, update, inp, update_id=update_id)


def _refusal(err: ApiError | RequestValidationError, lang: str) -> str:
    if isinstance(err, ApiError):
        return err.sentence(lang)
    return "; ".join(str(e.get("msg", "")) for e in err.errors())


# ---------------------------------------------------------------- the operator asks


def request_input(form: dict[str, str], found: SessionUser) -> c.ChangeRequestInput | str:
    """The request from the case page's form, or the catalogue key of what is wrong."""
    kind = form.get("kind", "")
    try:
        amount = money(form.get("corrected_amount"))
    except ValueError:
        return "request.bad_amount"
    reason = _clean(form.get("reason"))
    if not reason:
        return "request.why"
    close = form.get("close_reason") or None
    try:
        return c.ChangeRequestInput(
            actor=actor_of(found.user), kind=kind,
            corrected_amount=amount if kind == "amount_correction" else None,
            close_reason=close if kind == "close" else None,
            reason=reason,
        )  # fmt: skip
    except ValidationError:
        return "request.bad_amount" if kind == "amount_correction" else "request.bad_input"


@router.post("/cases/{loan_id}/requests")
async def ask(request: Request, found: Person, loan_id: LoanId) -> Response:
    form = await check_csrf(request, found.csrf_token)
    if not allowed(found.user.role, Action.REQUEST_CHANGE):
        raise Forbidden("forbidden.role")
    inp = request_input(form, found)
    if isinstance(inp, str):
        return await _case_page(request, found, loan_id, refusal=inp, status=422, sent=form)
    try:
        await _api_run(request, loan_id, c.UPDATE_REQUEST_CHANGE, inp, form.get("ref", ""))
    except (ApiError, RequestValidationError) as err:
        status = err.status_code if isinstance(err, ApiError) else 422
        sentence = _refusal(err, language(request, found.user))
        return await _case_page(request, found, loan_id, refusal=sentence, status=status, sent=form)
    return RedirectResponse(f"/cases/{loan_id}?asked=1", status_code=303)


# ---------------------------------------------------------------- the supervisor decides


async def _page(
    request: Request, found: Person, *, page: int = 1, status: int = 200, **values: Any
) -> Response:
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    api: AppState = request.app.state.collectflow
    try:
        listing = await approvals.pending(state.database, api.temporal, page, api.settings)
    except ApiError as err:  # Temporal is down: say so, on the page, rather than a JSON 503
        listing = approvals.ApprovalsPage(rows=[], page=page, more=False)
        t = Translator(language(request, found.user))
        values = {
            **values,
            "refusal": t("approvals.unavailable")
            if err.status_code == 503
            else err.sentence(t.language),
        }
        status = err.status_code
    return render(
        request, "approvals.html", user=found.user, csrf=found.csrf_token, status=status,
        listing=listing, new_ref=lambda: uuid.uuid4().hex,
        **{"target": None, "refusal": None, "notice": None, "sent": {}, **values},
    )  # fmt: skip


@router.get("/approvals")
async def approvals_page(
    request: Request, found: Annotated[Person, Supervisors], page: int = 1
) -> Response:
    done = request.query_params.get("done")
    notice = done if done in VERDICTS else None
    return await _page(request, found, page=max(1, min(page, 1000)), notice=notice)


@router.post("/approvals/{loan_id}/{request_no}")
async def decide(
    request: Request, found: Annotated[Person, Supervisors], loan_id: LoanId, request_no: RequestNo
) -> Response:
    form = await check_csrf(request, found.csrf_token)
    if not allowed(found.user.role, Action.DECIDE_REQUEST):
        raise Forbidden("forbidden.role")
    target = f"{loan_id}-{request_no}"
    verdict = form.get("verdict")
    if verdict not in VERDICTS:
        sentence = Translator(language(request, found.user))("approvals.choose")
        return await _page(request, found, status=422, target=target, refusal=sentence, sent=form)
    inp = c.DecideRequestInput(
        actor=actor_of(found.user), request_no=request_no, approve=verdict == "approved",
        notes=_clean(form.get("notes")),
    )  # fmt: skip
    try:
        await _api_run(request, loan_id, c.UPDATE_DECIDE_REQUEST, inp, form.get("ref", ""))
    except (ApiError, RequestValidationError) as err:
        status = err.status_code if isinstance(err, ApiError) else 422
        sentence = _refusal(err, language(request, found.user))
        return await _page(
            request, found, status=status, target=target, refusal=sentence, sent=form
        )
    return RedirectResponse(f"/approvals?done={verdict}", status_code=303)
