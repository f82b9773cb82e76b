"""The field collector's day on a phone: visits, check-in, the outcome, evidence.

Forms work without JavaScript (a post answers the page again); ``today.js`` queues the
check-in and the outcome while offline and sends them when the network returns, asking for
JSON (``Accept: application/json``) so a refusal comes back as a sentence to show.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from activities.vault.store import Vault
from api.deps import AppState
from api.errors import ApiError
from api.strategies import StrategyError
from api.vaulting import borrower_of_case
from models.common import Role, case_id_for
from web import evidence, fieldday, outcomes, plans
from web.accounts import SessionUser
from web.i18n import Translator
from web.outcome_form import parse
from web.pages import STATIC_DIR, language, render, web_state
from web.session import Forbidden, Person, actor_of, check_csrf

router = APIRouter(include_in_schema=False)
LoanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)]
NOTICES = frozenset({"today.recorded", "today.already", "today.checked_in", "today.evidence_kept"})
FIELD_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})


async def collector(found: Person) -> SessionUser:
    if found.user.role not in FIELD_ROLES or not found.user.agent_id:
        raise Forbidden("forbidden.role")
    return found


Collector = Annotated[SessionUser, Depends(collector)]


def _api(request: Request) -> AppState:
    state: AppState = request.app.state.collectflow
    return state


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _plans(request: Request, visit: fieldday.DayVisit) -> list[plans.PlanOption]:
    try:
        strategy = _api(request).strategies.get(visit.strategy_id)
    except (StrategyError, OSError, ValueError):
        return []  # no calculator for an unknown strategy; the case still checks any plan
    return plans.offered_plans(visit.balance, strategy.negotiation, visit.currency)


async def _day_page(
    request: Request, found: SessionUser, *, status: int = 200, **values: Any
) -> Response:
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    now = state.clock()
    agent = found.user.agent_id or ""  # set: the collector dependency checked it
    vault = Vault.from_settings(state.database, state.settings)
    visits = await fieldday.the_day(state.database, agent, found.user.timezone, now, vault)
    return render(
        request, "today.html", user=found.user, csrf=found.csrf_token, status=status,
        visits=visits, plan_options={v.loan_id: _plans(request, v) for v in visits},
        open_for_outcome=fieldday.open_for_outcome, new_ref=lambda: uuid.uuid4().hex,
        today=fieldday.day_bounds(now, found.user.timezone)[0].strftime("%Y-%m-%d"),
        **{"loan": None, "errors": {}, "refusal": None, "notice": None, "sent": {}, **values},
    )  # fmt: skip


@router.get("/today")
async def today(request: Request, found: Collector) -> Response:
    done = f"today.{request.query_params.get('done', '')}"
    sha = request.query_params.get("sha", "")
    t = Translator(language(request, found.user))
    notice = t(done, sha=sha if sha.isalnum() else "") if done in NOTICES else None
    return await _day_page(request, found, notice=notice)


@router.get("/today-sw.js")
async def service_worker() -> Response:
    """Served from the root so it may control ``/today`` (a worker's scope is its folder)."""
    response = FileResponse(STATIC_DIR / "today-sw.js", media_type="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _answer(
    request: Request, found: SessionUser, loan_id: str, status: int, key: str | None,
    sentence: str | None = None, errors: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    params = params or {}
    t = Translator(language(request, found.user))
    text = sentence or (t(key, **params) if key else "")
    if _wants_json(request):
        fields = {name: t(k) for name, k in (errors or {}).items()}
        return JSONResponse({"ok": status < 300, "sentence": text, "fields": fields}, status)
    if status < 300 and key in NOTICES:
        query = urlencode({"done": key.removeprefix("today."), **params})
        return RedirectResponse(f"/today?{query}#visit-{loan_id}", status_code=303)
    raise _Rerender(status, loan_id, text, errors or {})


class _Rerender(Exception):
    def __init__(self, status: int, loan: str, refusal: str, errors: dict[str, str]) -> None:
        super().__init__(refusal)
        self.status, self.loan, self.refusal, self.errors = status, loan, refusal, errors


async def _guarded(request: Request, found: SessionUser, work: Any) -> Response:
    try:
        response: Response = await work
        return response
    except _Rerender as again:
        # The form as sent (parsed once already), so the collector corrects rather than retypes.
        sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        sent.pop("csrf", None)
        return await _day_page(
            request, found, status=again.status, loan=again.loan, refusal=again.refusal,
            errors=again.errors, sent=sent,
        )  # fmt: skip


@router.post("/today/{loan_id}/outcome")
async def outcome(request: Request, found: Collector, loan_id: LoanId) -> Response:
    return await _guarded(request, found, _outcome(request, found, loan_id))


async def _outcome(request: Request, found: SessionUser, loan_id: str) -> Response:
    form = await check_csrf(request, found.csrf_token)
    parsed = parse(form)
    if parsed.outcome is None:
        return _answer(request, found, loan_id, 422, "today.fix_fields", errors=parsed.errors)
    state = _api(request)
    try:
        client = await state.temporal()
        _, again = await outcomes.record_outcome(
            state, client, loan_id, actor_of(found.user), parsed.outcome
        )
    except ApiError as err:
        return _answer(request, found, loan_id, err.status_code, None, str(err.detail))
    except RequestValidationError as err:
        sentence = "; ".join(str(e.get("msg", "")) for e in err.errors())
        return _answer(request, found, loan_id, 422, None, sentence)
    return _answer(request, found, loan_id, 200, "today.already" if again else "today.recorded")


@router.post("/today/{loan_id}/check-in")
async def check_in(request: Request, found: Collector, loan_id: LoanId) -> Response:
    return await _guarded(request, found, _check_in(request, found, loan_id))


async def _check_in(request: Request, found: SessionUser, loan_id: str) -> Response:
    form = await check_csrf(request, found.csrf_token)
    ref = form.get("ref", "")
    at = form.get("at", "")
    if not outcomes.REF_PATTERN.fullmatch(ref):
        return _answer(request, found, loan_id, 422, "today.bad_ref")
    try:
        moment = (
            datetime.fromisoformat(at.replace("Z", "+00:00")) if at else web_state(request).clock()
        )
    except ValueError:
        return _answer(request, found, loan_id, 422, "today.bad_time")
    note = f"checked in at the borrower's address at {moment.isoformat(timespec='seconds')}"
    state = _api(request)
    try:
        await outcomes.add_note_once(
            state, await state.temporal(), loan_id, actor_of(found.user), note, ref
        )
    except ApiError as err:
        return _answer(request, found, loan_id, err.status_code, None, str(err.detail))
    return _answer(request, found, loan_id, 200, "today.checked_in")


@router.post("/today/{loan_id}/evidence")
async def add_evidence(request: Request, found: Collector, loan_id: LoanId) -> Response:
    return await _guarded(request, found, _evidence(request, found, loan_id))


async def _evidence(request: Request, found: SessionUser, loan_id: str) -> Response:
    await check_csrf(request, found.csrf_token)
    form = await request.form()  # parsed once by the CSRF check; the file is in it
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _answer(request, found, loan_id, 422, "today.evidence_empty")
    try:
        checked = await evidence.read_upload(upload)
    except evidence.EvidenceError as err:
        return _answer(request, found, loan_id, err.status, err.key, params=err.params)
    site = web_state(request)
    borrower_id = None
    if site.database is not None:
        borrower_id = await borrower_of_case(site.database, case_id_for(loan_id))
    if site.database is None or borrower_id is None:
        return _answer(request, found, loan_id, 404, "today.evidence_no_case")
    vault = Vault.from_settings(site.database, site.settings)
    stored = await evidence.keep(checked, site.settings.data_dir, vault, borrower_id)
    ref = f"ev-{stored.sha256[:32]}-{loan_id}"[:64].replace(".", "-").replace("_", "-")
    state = _api(request)
    try:
        await outcomes.add_note_once(
            state, await state.temporal(), loan_id, actor_of(found.user),
            evidence.evidence_note(stored, None), ref,
        )  # fmt: skip
    except ApiError as err:
        return _answer(request, found, loan_id, err.status_code, None, str(err.detail))
    return _answer(
        request, found, loan_id, 200, "today.evidence_kept", params={"sha": stored.sha256[:12]}
    )
