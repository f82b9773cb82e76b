"""Login, logout and the language switch."""

from __future__ import annotations

import math
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from models.settings import Settings
from web import accounts
from web.i18n import known
from web.pages import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, render, set_cookie, web_state
from web.session import (
    Forbidden,
    OptionalPerson,
    Person,
    anonymous_csrf,
    check_csrf,
)

router = APIRouter(include_in_schema=False)
YEAR = 365 * 24 * 3600
MAX_FIELD = 256


def _local(target: str | None) -> str:
    """Only a path on this site: ``next=//evil.example`` would be an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _login_page(
    request: Request, *, status: int = 200, error: str | None = None, **values: object
) -> Response:
    token, fresh = anonymous_csrf(request)
    response = render(
        request,
        "login.html",
        user=None,
        csrf=token,
        status=status,
        error=error,
        next=_local(request.query_params.get("next")),
        **values,
    )
    if fresh:
        state = web_state(request)
        set_cookie(response, state, CSRF_COOKIE, state.signer.sign(CSRF_COOKIE, token), 3600)
    return response


@router.get("/login")
async def login_form(request: Request, found: OptionalPerson) -> Response:
    if found is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    state = web_state(request)
    cookie_token = state.signer.unsign(CSRF_COOKIE, request.cookies.get(CSRF_COOKIE))
    form = await check_csrf(request, cookie_token)
    username = form.get("username", "").strip().lower()[:MAX_FIELD]
    password = form.get("password", "")[:MAX_FIELD]
    target = _local(form.get("next"))
    if not username or not password:
        return _login_page(request, status=422, error="login.missing", username=username)
    if state.database is None:
        return _login_page(request, status=503, error="login.unavailable", username=username)
    result = await accounts.log_in(
        state.database, username, password, state.clock(), _hours(state.settings)
    )
    if result.user is None or result.session_token is None:
        status = {"login.locked": 423, "login.disabled": 403}.get(result.refusal or "", 401)
        return _login_page(
            request,
            status=status,
            error=result.refusal,
            username=username,
            locked_minutes=_minutes_left(result.locked_until, state.clock()),
        )
    response = RedirectResponse(target, status_code=303)
    signed = state.signer.sign(SESSION_COOKIE, result.session_token)
    set_cookie(response, state, SESSION_COOKIE, signed, _hours(state.settings) * 3600)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def _minutes_left(until: datetime | None, now: datetime) -> int:
    """Whole minutes, rounded up: "in 1 min" rather than a clock time in someone's zone."""
    if until is None:
        return 0
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _hours(settings: Settings) -> int:
    return settings.session_hours


@router.post("/logout")
async def logout(request: Request, found: Person) -> Response:
    await check_csrf(request, found.csrf_token)
    state = web_state(request)
    token = state.signer.unsign(SESSION_COOKIE, request.cookies.get(SESSION_COOKIE))
    if token and state.database is not None:
        await accounts.log_out(state.database, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    # The field view's offline cache holds borrowers' details: the browser drops it now.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str) -> Response:
    """A link, not a form: it only sets the language cookie (nothing on the server changes)."""
    language = known(code)
    if language is None:
        raise Forbidden("forbidden.language")
    response = RedirectResponse(_local(request.query_params.get("next")), status_code=303)
    set_cookie(response, web_state(request), LANG_COOKIE, language, YEAR)
    return response
