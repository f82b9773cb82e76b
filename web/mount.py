"""``install(app, settings, database)``: the screens, their static files and the offline docs.

Called once from :func:`api.app.create_app`. Refuses to start outside development with a
placeholder session secret (``Settings.web_session_secret``).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from activities.db import Database
from models.settings import Settings
from web import auditing, evidence
from web.docs import docs_router
from web.pages import STATIC_DIR, WebState, build_environment, render
from web.routes import (
    approvals,
    audit,
    auth,
    borrower,
    calls,
    cases,
    exhibits,
    home,
    people,
    supervisor,
    today,
)
from web.security import CookieSigner
from web.session import Forbidden, LoginRequired, anonymous_csrf, optional_person

YEAR_SECONDS = 365 * 24 * 3600
# The screens' uploads, allowed past the API's small body cap (each route checks its own
# limit inside, with a sentence): an evidence file plus its form, an export zip.
FORM_OVERHEAD = 256 * 1024
UPLOAD_LIMITS = {
    r"/today/[A-Za-z0-9._-]+/evidence": evidence.MAX_BYTES + FORM_OVERHEAD,
    r"/audit/verify": auditing.MAX_ZIP_BYTES + FORM_OVERHEAD,
}


class VersionedStatic(StaticFiles):
    """Static files; a URL carrying its content hash (``?v=``) is cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
        return response


def install(app: FastAPI, settings: Settings, database: Database | None) -> None:
    app.state.web = WebState(
        settings=settings,
        database=database,
        signer=CookieSigner(settings.web_session_secret()),
        env=build_environment(),
    )
    app.mount("/static", VersionedStatic(directory=STATIC_DIR), name="static")
    app.include_router(docs_router(app))
    routers = (auth, home, cases, exhibits, calls, approvals, people, today, supervisor, audit)
    for module in (*routers, borrower):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Forbidden, _forbidden)


async def _to_login(request: Request, _: Exception) -> Response:
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    found = await optional_person(request)
    reason = exc.reason if isinstance(exc, Forbidden) else "forbidden.role"
    csrf = found.csrf_token if found else anonymous_csrf(request)[0]
    return render(
        request,
        "error.html",
        user=found.user if found else None,
        csrf=csrf,
        status=403,
        reason=reason,
    )
