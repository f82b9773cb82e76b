"""The borrower's own page, ``/b/{token}``: no account, a link from an SMS.

GET only reads (SMS apps prefetch links). Before the borrower confirms who they are, the page
shows the company and the amount due, nothing else; every other answer (unknown, revoked,
expired, another case's or a guessed token) is the same page that reveals nothing.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from activities.vault.store import Vault
from api.case_ops import read_case
from api.deps import AppState
from api.errors import ApiError
from api.ratelimit import retry_after_seconds
from api.vaulting import record_opt_out
from models import case as c
from models.actions import ActionName
from models.strategy import BorrowerPageRules, Strategy, StrategyError
from web import borrower_access as access
from web import borrower_actions as actions
from web import borrower_forms as forms
from web.borrower_page import company, limits, page, page_language, sections
from web.i18n import Translator
from web.pages import CSRF_COOKIE, set_cookie, web_state
from web.security import same_token
from web.session import anonymous_csrf

router = APIRouter(include_in_schema=False)
# Any string: a malformed token answers the same page as an unknown one (lookup checks it).
Token = Annotated[str, Path()]
SESSION_COOKIE = "cf_b"
MAX_TEXT = 1000


class Stop(Exception):
    """Answer this response now (a refusal page, a redirect)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _gone(request: Request, lang: str | None = None) -> Stop:
    lang = lang or page_language(request, None)
    return Stop(page(request, "borrower_gone.html", lang, status=404))


def _limited(request: Request, token: str) -> None:
    found = limits(request)
    address = request.client.host if request.client else "unknown"
    wait = max(found.by_address.take(address), found.by_token.take(token[:64]))
    if wait > 0:
        response = page(request, "borrower_busy.html", page_language(request, None), status=429)
        response.headers["Retry-After"] = str(retry_after_seconds(wait))
        raise Stop(response)


class Visit:
    """One request on a live link: the link, its case, its strategy, the language."""

    def __init__(
        self, request: Request, token: str, state: access.LinkState, view: c.CaseView, s: Strategy
    ) -> None:
        self.request, self.token, self.state, self.view, self.strategy = (
            request,
            token,
            state,
            view,
            s,
        )
        self.link = state.link
        borrower = state.borrower
        self.lang = page_language(request, borrower.locale if borrower else None)
        self.zone = borrower.timezone if borrower else "UTC"
        self.now = web_state(request).clock()
        # Before confirmation: the form token and whether its cookie must be set (computed once,
        # so the form and the cookie carry the same token).
        self.anonymous = anonymous_csrf(request)

    @property
    def rules(self) -> BorrowerPageRules:
        return self.strategy.borrower_page

    @property
    def confirmed(self) -> bool:
        signer = web_state(self.request).signer
        value = signer.unsign(SESSION_COOKIE, self.request.cookies.get(SESSION_COOKIE))
        return access.session_valid(self.link, value, self.rules, self.now)

    @property
    def csrf(self) -> str:
        """After confirmation: bound to the session; before it, the anonymous form token."""
        signer = web_state(self.request).signer
        if self.confirmed:
            return signer.sign("borrower-csrf", access.session_value(self.link))
        return self.anonymous[0]

    def check_csrf(self, form: dict[str, str]) -> None:
        # A stale form (the session ran out while it was open) or a forged one: back to the
        # page, which asks to confirm again; nothing is done.
        if not same_token(form.get("csrf"), self.csrf):
            raise self.back()

    def back(self, **query: str) -> Stop:
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        return Stop(RedirectResponse(f"/b/{self.token}" + (f"?{suffix}" if suffix else ""), 303))


async def _visit(request: Request, token: str) -> Visit:
    _limited(request, token)
    web = web_state(request)
    if web.database is None:
        raise _gone(request)
    found = await access.lookup(
        web.database, token, Vault.from_settings(web.database, web.settings)
    )
    if found is None:
        raise _gone(request)
    app: AppState = request.app.state.collectflow
    try:
        view = await read_case(await app.temporal(), found.link.case_id)
    except ApiError as err:
        if err.status_code in (404, 409):
            raise _gone(request) from err
        lang = page_language(request, found.borrower.locale if found.borrower else None)
        busy = page(request, "borrower_busy.html", lang, status=503)
        busy.headers["Retry-After"] = "5"
        raise Stop(busy) from err
    try:
        strategy = app.strategies.get(view.strategy.id)
    except StrategyError as err:
        raise _gone(request) from err
    visit = Visit(request, token, found, view, strategy)
    if view.terminal or access.expired(found.link, strategy.borrower_page, visit.now):
        raise _gone(request, visit.lang)
    return visit


def _show(
    v: Visit, *, refusal: str | None = None, notice: str | None = None, status: int = 200
) -> Response:
    values = {
        "token": v.token,
        "company": company(v.strategy, v.lang),
        "view": v.view,
        "csrf": v.csrf,
        "notice": notice or v.request.query_params.get("done"),
        "refusal": refusal,
        "window": v.strategy.compliance,
    }
    if access.locked(v.link, v.now):
        locked_until = v.link.locked_until or v.now
        until = access.aware(locked_until).astimezone(ZoneInfo(v.zone))
        response = page(
            v.request,
            "borrower_locked.html",
            v.lang,
            status=423 if status == 200 else status,
            until=until.strftime("%Y-%m-%d %H:%M"),
            **values,
        )
    elif not v.confirmed:
        borrower = v.state.borrower
        response = page(
            v.request,
            "borrower_confirm.html",
            v.lang,
            status=status,
            code_sent=v.link.code_sent_at is not None,
            has_year=bool(borrower and borrower.birth_year),
            **values,
        )
        _csrf_cookie(v, response)
    else:
        count = v.request.query_params.get("count", "")
        chosen = int(count) if count.isdigit() and len(count) < 4 else None
        response = page(
            v.request,
            "borrower.html",
            v.lang,
            status=status,
            s=sections(v.view, v.strategy, v.zone, v.now, chosen),
            rules=v.strategy.negotiation,
            loan_id=v.link.loan_id,
            **values,
        )
    return response


def _csrf_cookie(v: Visit, response: Response) -> None:
    token, fresh = v.anonymous
    if fresh:
        web = web_state(v.request)
        set_cookie(response, web, CSRF_COOKIE, web.signer.sign(CSRF_COOKIE, token), 3600)


async def _form(v: Visit) -> dict[str, str]:
    form = await v.request.form()
    values = {k: " ".join(str(x).replace("\x00", "").split())[:MAX_TEXT] for k, x in form.items()}
    v.check_csrf(values)
    return values


@router.get("/b/{token}")
async def borrower_page(request: Request, token: Token) -> Response:
    try:
        return _show(await _visit(request, token))
    except Stop as stop:
        return stop.response


@router.post("/b/{token}/code")
async def send_code(request: Request, token: Token) -> Response:
    """A one-time code to the borrower's own phone: a reply to their request, so it goes at
    any hour and even after an opt-out; bounded per link and one a minute."""
    try:
        v = await _visit(request, token)
        await _form(v)
        db = web_state(request).database
        borrower = v.state.borrower
        if access.locked(v.link, v.now) or db is None or borrower is None:
            return _show(v)
        if not access.may_send_code(v.link, v.rules, v.now):
            return _show(v, refusal="borrower.code_wait", status=429)
        code = access.new_code()
        secret = web_state(request).settings.session_secret
        assert v.link.id is not None  # a stored row
        await access.store_code(db, v.link, access.code_digest(secret, v.link.id, code), v.now)
        text = Translator(v.lang)(
            "borrower.sms.code",
            company=company(v.strategy, v.lang),
            code=code,
            minutes=v.rules.code_valid_minutes,
        )
        sent = await actions.text_borrower(web_state(request).settings, borrower.phone, text)
        raise v.back(done="borrower.code_sent" if sent else "borrower.code_failed")
    except Stop as stop:
        return stop.response


@router.post("/b/{token}/confirm")
async def confirm(request: Request, token: Token) -> Response:
    try:
        v = await _visit(request, token)
        form = await _form(v)
        db = web_state(request).database
        if access.locked(v.link, v.now) or db is None:
            return _show(v)
        secret = web_state(request).settings.session_secret
        answer = form.get("code", "") or form.get("year", "")
        right = access.code_matches(v.link, secret, v.rules, form.get("code", ""), v.now) or (
            access.year_matches(v.state.borrower, form.get("year", "")) and bool(form.get("year"))
        )
        if not answer or not right:
            if await access.record_failure(db, v.link, v.rules, v.now):
                raise v.back()
            raise v.back(done="borrower.wrong")
        confirmed = await access.confirm(db, v.link, v.now)
        response = RedirectResponse(f"/b/{token}", status_code=303)
        if confirmed is not None:
            web = web_state(request)
            value = web.signer.sign(SESSION_COOKIE, access.session_value(confirmed))
            set_cookie(response, web, SESSION_COOKIE, value, v.rules.session_minutes * 60)
        return response
    except Stop as stop:
        return stop.response


ACTION_NAMES = {
    "promise": ActionName.NEGOTIATION,
    "plan": ActionName.NEGOTIATION,
    "hardship": ActionName.NEGOTIATION,
    "dispute": ActionName.DISPUTE,
    "visit": ActionName.VISIT_ANSWER,
}


@router.post("/b/{token}/act/{what}")
async def borrower_action(request: Request, token: Token, what: str) -> Response:
    try:
        v = await _visit(request, token)
        form = await _form(v)
        if not v.confirmed or access.locked(v.link, v.now):
            raise v.back()
        who = actions.actor(v.state.borrower.id if v.state.borrower else None)
        app: AppState = request.app.state.collectflow
        client = await app.temporal()
        if what.startswith("optout-"):
            channel = forms.channel(what.removeprefix("optout-"))
            if channel is None:
                return _show(v, refusal="borrower.bad_input", status=422)
            await actions.signal(
                client, v.link.case_id, ActionName.CHANNEL_PREFERENCE, actions.opt_out(who, channel)
            )
            database = web_state(request).database
            if database is not None:  # the do-not-contact register outlives the case
                vault = Vault.from_settings(database, web_state(request).settings)
                await record_opt_out(vault, v.link.case_id, [channel], "borrower page", who.id)
            await _confirm_by_sms(
                v, "borrower.sms.optout", channel=Translator(v.lang)(f"next.{channel.value}")
            )
            raise v.back(done="borrower.done_optout")
        if what == "hours":
            window = v.strategy.compliance
            end_hour = window.window_end.hour + (1 if window.window_end.minute else 0)
            chosen = forms.hours(form, window.window_start.hour, end_hour)
            if chosen is None:
                return _show(v, refusal="borrower.bad_hours", status=422)
            pref = actions.hours(who, *chosen)
            await actions.signal(client, v.link.case_id, ActionName.CHANNEL_PREFERENCE, pref)
            span = f"{chosen[0].strftime('%H:%M')}-{chosen[1].strftime('%H:%M')}"
            await _confirm_by_sms(v, "borrower.sms.hours", hours=span)
            raise v.back(done="borrower.done_hours")
        inp = forms.action_input(what, form, who, v.zone)
        if inp is None:
            return _show(v, refusal="borrower.bad_input", status=422)
        try:
            web = web_state(request)
            sealer = Vault.from_settings(web.database, web.settings) if web.database else None
            view = await actions.act(client, v.link.case_id, ACTION_NAMES[what], inp, sealer)
        except ApiError as err:
            return _show(
                v,
                refusal=err.sentence(v.lang),
                status=409 if err.status_code < 500 else err.status_code,
            )
        await _agreed_sms(v, what, view)
        raise v.back(done=f"borrower.done_{what}")
    except Stop as stop:
        return stop.response


async def _agreed_sms(v: Visit, what: str, view: c.CaseView) -> None:
    """A text that repeats what was agreed (DESIGN §8)."""
    t = Translator(v.lang)
    if what == "plan" and view.plan is not None:
        rows = "; ".join(
            f"{i.index}) {i.due_date.isoformat()} {c.money_str(i.amount)}"
            for i in view.plan.installments
        )
        await _confirm_by_sms(
            v,
            "borrower.sms.plan",
            count=len(view.plan.installments),
            rows=rows,
            currency=view.currency,
        )
    elif what == "promise" and view.promises:
        last = view.promises[-1]
        await _confirm_by_sms(
            v,
            "borrower.sms.promise",
            amount=c.money_str(last.amount),
            currency=view.currency,
            date=last.due_date.isoformat(),
        )
    else:
        await _confirm_by_sms(v, f"borrower.sms.{what}", action=t(f"borrower.{what}.title"))


async def _confirm_by_sms(v: Visit, key: str, **values: object) -> None:
    borrower = v.state.borrower
    if borrower is None:
        return
    text = Translator(v.lang)(key, company=company(v.strategy, v.lang), **values)
    await actions.text_borrower(web_state(v.request).settings, borrower.phone, text)
