"""The supervisor's screens: the escalation queue with its decisions, and the dashboard.

A decision is the case's ``escalation`` action (the API's ``POST /v1/cases/{id}/escalation``),
run on the same service layer with the supervisor as actor; the case's refusal is shown inline.
Approvals of operators' close and amount-correction requests will join this screen when the
case takes them (the action table names them; the workflow has no handler for them yet).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
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
from web import charts, portfolio, supervise
from web.accounts import SessionUser
from web.i18n import Translator
from web.outcomes import REF_PATTERN
from web.pages import language, render, web_state
from web.plans import money
from web.session import Forbidden, Person, actor_of, check_csrf, person_with

router = APIRouter(include_in_schema=False)
LoanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)]
Supervisors = Depends(person_with(Role.SUPERVISOR, Role.ADMIN))
DECISIONS = tuple(d.value for d in c.EscalationDecision)


async def _queue_page(
    request: Request, found: SessionUser, *, status: int = 200, **values: Any
) -> Response:
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    rows = await supervise.escalation_queue(state.database, state.clock())
    return render(
        request, "escalations.html", user=found.user, csrf=found.csrf_token, status=status,
        rows=rows, decisions=DECISIONS, new_ref=lambda: uuid.uuid4().hex,
        **{"loan": None, "refusal": None, "notice": None, "sent": {}, **values},
    )  # fmt: skip


@router.get("/escalations")
async def escalations(request: Request, found: Annotated[Person, Supervisors]) -> Response:
    done = request.query_params.get("done")
    return await _queue_page(request, found, notice=done if done in DECISIONS else None)


def _input(form: dict[str, str], found: SessionUser) -> c.EscalationInput | str:
    """The decision, or the catalogue key of what is wrong with the form."""
    if form.get("decision") not in DECISIONS:
        return "escalations.choose"
    try:
        amount = money(form.get("settlement_amount"))
    except ValueError:
        return "today.bad_amount"
    notes = " ".join(form.get("notes", "").replace("\x00", "").split())[:2000]
    try:
        return c.EscalationInput(
            actor=actor_of(found.user), decision=c.EscalationDecision(form["decision"]),
            settlement_amount=amount or None, notes=notes,
        )  # fmt: skip
    except ValidationError:
        return "today.bad_amount"


@router.post("/escalations/{loan_id}/decide")
async def decide(
    request: Request, found: Annotated[Person, Supervisors], loan_id: LoanId
) -> Response:
    form = await check_csrf(request, found.csrf_token)
    if not allowed(found.user.role, Action.ESCALATION):
        raise Forbidden("forbidden.role")
    inp = _input(form, found)
    if isinstance(inp, str):
        sentence = Translator(language(request, found.user))(inp)
        return await _queue_page(
            request, found, status=422, loan=loan_id, refusal=sentence, sent=form
        )
    ref = form.get("ref", "")
    api: AppState = request.app.state.collectflow
    try:
        client = await api.temporal()
        await check_places(api, client, loan_id, inp)
        case_id = case_id_for(loan_id)  # DESIGN §10: the decision's notes sealed first
        inp = await vaulting.sealed_for_case(
            api.database, api.settings, case_id, inp, c.UPDATE_ESCALATION
        )
        await run_update(
            client, case_id, c.UPDATE_ESCALATION, inp,
            update_id=f"{Action.ESCALATION.value}:{ref}" if REF_PATTERN.fullmatch(ref) else None,
        )  # fmt: skip
    except ApiError as err:
        return await _queue_page(
            request,
            found,
            status=err.status_code,
            loan=loan_id,
            refusal=err.sentence(language(request, found.user)),
            sent=form,
        )
    except RequestValidationError as err:
        sentence = "; ".join(str(e.get("msg", "")) for e in err.errors())
        return await _queue_page(
            request, found, status=422, loan=loan_id, refusal=sentence, sent=form
        )
    return RedirectResponse(f"/escalations?done={inp.decision.value}", status_code=303)


@router.get("/dashboard")
async def dashboard(request: Request, found: Annotated[Person, Supervisors]) -> Response:
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    t = Translator(language(request, found.user))
    figures = await supervise.dashboard(state.database)
    stage_rows = [(t(f"stage.{s}"), n) for s, n in figures.stages]
    money_charts = [
        (cur, charts.bars(_strategy_rows(figures, cur), t("dash.by_strategy", currency=cur), cur))
        for cur, _, _ in figures.recovered
    ]
    judged = figures.promises_kept + figures.promises_broken
    book = await portfolio.portfolio(state.database, state.clock().date())
    return render(
        request, "dashboard.html", user=found.user, csrf=found.csrf_token, figures=figures,
        stage_chart=charts.bars(stage_rows, t("dash.stages")), money_charts=money_charts,
        kept_rate=portfolio.percent(figures.promises_kept, judged), book=book,
        percent=portfolio.percent,
    )  # fmt: skip


def _strategy_rows(figures: supervise.Dashboard, currency: str) -> list[tuple[str, Decimal]]:
    return [(name, total) for name, cur, total in figures.by_strategy if cur == currency]
