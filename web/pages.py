"""Rendering pages: the Jinja2 environment, the per-request page context, cookies.

A page gets ``t`` (the translator), ``lang``, ``user``, ``csrf`` (the token every form
carries) and ``static(path)`` (a URL with the file's content hash, so it caches for a year).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from activities.db import Database
from models.case import money_str
from models.settings import Settings
from models.users import User
from web.i18n import LANGUAGES, Translator, choose
from web.screens import screens_of
from web.security import CookieSigner
from web.timeline_text import words_for

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
SESSION_COOKIE = "cf_session"
CSRF_COOKIE = "cf_csrf"  # before login: the login form's double-submit token
LANG_COOKIE = "cf_lang"


@dataclass
class WebState:
    settings: Settings
    database: Database | None
    signer: CookieSigner
    env: Environment
    # The screens' clock (lockouts, session expiry); tests move it instead of sleeping.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def secure_cookies(self) -> bool:
        return self.settings.env != "development"


@cache
def _static_version(path: str) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    return f"/static/{path}?v={_static_version(path)}"


def in_zone(moment: datetime, zone: str) -> str:
    """A time as the borrower's clock shows it: "12-01 15:16"."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")


@pass_context
def seen(context: Context, moment: datetime, seconds: bool = False) -> str:
    """A time in the viewer's zone, with the zone's abbreviation: "12-02 06:39 CST"."""
    user = context.get("user")
    zone = ZoneInfo(user.timezone) if user is not None else UTC
    local = moment.astimezone(zone)
    return local.strftime("%m-%d %H:%M:%S %Z" if seconds else "%m-%d %H:%M %Z")


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a typo in a template fails the test, not silently blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.filters["in_zone"] = in_zone
    env.filters["seen"] = seen
    env.filters["money"] = money_str
    env.globals["languages"] = LANGUAGES
    return env


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def language(request: Request, user: User | None) -> str:
    return choose(
        request.cookies.get(LANG_COOKIE),
        user.locale if user else None,
        request.headers.get("accept-language"),
    )


def render(
    request: Request,
    template: str,
    *,
    user: User | None,
    csrf: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    lang = language(request, user)
    zone = ZoneInfo(user.timezone) if user is not None else UTC
    page = (
        web_state(request)
        .env.get_template(template)
        .render(
            t=Translator(lang),
            words=words_for(
                Translator(lang), lambda at: at.astimezone(zone).strftime("%m-%d %H:%M")
            ),
            lang=lang,
            user=user,
            csrf=csrf,
            path=request.url.path,
            screens_nav=screens_of(user) if user else (),
            **values,
        )
    )
    response = HTMLResponse(page, status_code=status)
    # Pages show personal data: never cached by shared caches, not framed by other sites.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def set_cookie(response: Response, state: WebState, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/",
    )
