"""The worklist and the case page: reads and the case's own actions, the person as actor."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from temporalio.client import Client

from activities.vault.store import Vault
from api import vaulting
from api.auth import Action, allowed
from api.deps import AppState
from api.errors import ApiError
from models.case import CloseReason
from models.common import Role, case_id_for
from web import casefile, claims, exhibits
from web.casefile import Detail
from web.pages import language, render, web_state
from web.session import Forbidden, Person, actor_of, check_csrf, person_with
from web.worklist import worklist

router = APIRouter(include_in_schema=False)
LoanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)]
Workers = Depends(person_with(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN))
Readers = Depends(person_with(Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN))
MAX_REASON = 500
MAX_NOTE = 4000


async def _temporal(request: Request) -> Client:
    state: AppState = request.app.state.collectflow
    return await state.temporal()


@router.get("/worklist")
async def worklist_page(
    request: Request, found: Annotated[Person, Workers], page: int = 1
) -> Response:
    db = web_state(request).database
    if db is None:
        raise Forbidden("forbidden.unavailable")
    region = found.user.region if found.user.agent_id else None  # a collector: own region
    now = web_state(request).clock()
    vault = Vault.from_settings(db, web_state(request).settings)
    work = await worklist(db, now, max(1, min(page, 1000)), region, vault)
    loans = {r.loan_id for r in work.due} | {r.loan_id for r in work.replies}
    loans |= {r.loan_id for r in work.proposals}
    held = await claims.holders(db, (case_id_for(loan) for loan in loans), now)
    holders = {loan: held[case_id_for(loan)] for loan in loans if case_id_for(loan) in held}
    return render(
        request, "worklist.html", user=found.user, csrf=found.csrf_token, work=work, holders=holders
    )


@router.get("/cases")
async def find_case(request: Request, found: Annotated[Person, Readers]) -> Response:
    loan_id = (request.query_params.get("loan_id") or "").strip()
    if loan_id:
        return RedirectResponse(f"/cases/{loan_id}", status_code=303)
    return render(request, "find.html", user=found.user, csrf=found.csrf_token)


def _vault(request: Request) -> Vault | None:
    state = web_state(request)
    return Vault.from_settings(state.database, state.settings) if state.database else None


async def _case_page(
    request: Request,
    found: Person,
    loan_id: str,
    *,
    revealed: frozenset[Detail] = frozenset(),
    refusal: str | None = None,
    notice: str | None = None,
    status: int = 200,
    sent: dict[str, str] | None = None,
) -> Response:
    if not casefile.may_read(found.user.role):
        raise Forbidden("forbidden.role")
    state = web_state(request)
    try:
        client = await _temporal(request)
        view = await casefile.state(client, loan_id)
        entries = await casefile.timeline(client, loan_id)
    except ApiError as err:
        return render(
            request,
            "case_missing.html",
            user=found.user,
            csrf=found.csrf_token,
            status=err.status_code,
            loan_id=loan_id,
            sentence=str(err.detail),
        )
    borrower = None
    if state.database is not None:  # DESIGN §10: details and free text opened for the reader
        vault = Vault.from_settings(state.database, state.settings)
        borrower = await casefile.borrower_of(state.database, loan_id, vault)
        view = await vaulting.opened_model(vault, view)
        entries = await vaulting.opened_entries(vault, entries)
    held = (
        await claims.holder(state.database, case_id_for(loan_id), state.clock())
        if state.database
        else None
    )
    return render(
        request,
        "case.html",
        user=found.user,
        csrf=found.csrf_token,
        status=status,
        view=view,
        entries=entries,
        borrower=casefile.card(borrower, revealed) if borrower else None,
        details=list(Detail),
        may_write=casefile.may_write_notes(found.user.role) and not view.terminal,
        refusal=refusal,
        notice=notice,
        holder=held,
        may_claim=casefile.may_write_notes(found.user.role) and not view.terminal,
        may_ask=allowed(found.user.role, Action.REQUEST_CHANGE) and not view.terminal,
        close_reasons=[r.value for r in CloseReason],
        exhibits=exhibits.exhibits(view),
        may_open_evidence=found.user.role in exhibits.OPENERS,
        new_ref=lambda: uuid.uuid4().hex,
        sent=sent or {},  # a refused form's values, to correct rather than retype
        may_release=held is not None
        and (held.user_id == found.user.id or found.user.role in claims.RELEASERS),
    )


@router.get("/cases/{loan_id}")
async def case_page(
    request: Request, found: Annotated[Person, Readers], loan_id: LoanId
) -> Response:
    done = {"noted": "case.noted", "called": "call.logged", "asked": "request.asked"}
    notice = next((v for k, v in done.items() if request.query_params.get(k) == "1"), None)
    return await _case_page(request, found, loan_id, notice=notice)


@router.post("/cases/{loan_id}/reveal")
async def reveal(request: Request, found: Person, loan_id: LoanId) -> Response:
    """Show one borrower detail in this answer, after recording who, when and why on the case."""
    form = await check_csrf(request, found.csrf_token)
    if not casefile.may_write_notes(found.user.role):
        raise Forbidden("forbidden.role")
    reason = " ".join(form.get("reason", "").split())[:MAX_REASON]
    try:
        detail = Detail(form.get("detail", ""))
    except ValueError:
        return await _case_page(request, found, loan_id, refusal="case.reveal_what", status=422)
    if not reason:
        return await _case_page(request, found, loan_id, refusal="case.reveal_why", status=422)
    note = casefile.reveal_note(detail, reason)
    try:
        await casefile.add_note(
            await _temporal(request), loan_id, actor_of(found.user), note, _vault(request)
        )
    except ApiError as err:
        return await _case_page(
            request,
            found,
            loan_id,
            refusal=err.sentence(language(request, found.user)),
            status=err.status_code,
        )
    return await _case_page(request, found, loan_id, revealed=frozenset({detail}))


@router.post("/cases/{loan_id}/notes")
async def add_note(request: Request, found: Person, loan_id: LoanId) -> Response:
    form = await check_csrf(request, found.csrf_token)
    if not casefile.may_write_notes(found.user.role):
        raise Forbidden("forbidden.role")
    text = form.get("text", "").replace("\x00", "").strip()[:MAX_NOTE]
    if not text:
        return await _case_page(request, found, loan_id, refusal="case.note_empty", status=422)
    try:
        await casefile.add_note(
            await _temporal(request), loan_id, actor_of(found.user), text, _vault(request)
        )
    except ApiError as err:
        return await _case_page(
            request,
            found,
            loan_id,
            refusal=err.sentence(language(request, found.user)),
            status=err.status_code,
        )
    return RedirectResponse(f"/cases/{loan_id}?noted=1", status_code=303)


@router.post("/cases/{loan_id}/claim")
async def claim(request: Request, found: Person, loan_id: LoanId) -> Response:
    """Take the case; if someone else holds it, say who (the claim stays theirs)."""
    await check_csrf(request, found.csrf_token)
    state = web_state(request)
    if not casefile.may_write_notes(found.user.role) or state.database is None:
        raise Forbidden("forbidden.role")
    held = await claims.claim(state.database, case_id_for(loan_id), found.user, state.clock())
    if held.user_id != found.user.id:
        return await _case_page(request, found, loan_id, refusal="case.held", status=409)
    return RedirectResponse(f"/cases/{loan_id}", status_code=303)


@router.post("/cases/{loan_id}/release")
async def release(request: Request, found: Person, loan_id: LoanId) -> Response:
    await check_csrf(request, found.csrf_token)
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    if not await claims.release(state.database, case_id_for(loan_id), found.user):
        raise Forbidden("forbidden.role")
    return RedirectResponse(f"/cases/{loan_id}", status_code=303)
