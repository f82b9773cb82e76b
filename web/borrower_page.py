"""Rendering the borrower's page: its language, its headers, and what each section shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.ratelimit import RateLimiter
from models import case as c
from models.common import Stage
from models.strategy import Strategy
from web.borrower_actions import PlanRow, plan_counts, plan_preview
from web.i18n import Translator, choose
from web.pages import LANG_COOKIE, web_state

HARDSHIP_DAYS = (7, 14, 30, 60, 90)


@dataclass
class Limits:
    """Per token and per address: enough for a person, too few for guessing or scraping."""

    by_token: RateLimiter
    by_address: RateLimiter


def limits(request: Request) -> Limits:
    found: Limits | None = getattr(request.app.state, "borrower_limits", None)
    if found is None:
        found = Limits(RateLimiter(rate=0.5, burst=30), RateLimiter(rate=1.0, burst=60))
        request.app.state.borrower_limits = found
    return found


def page_language(request: Request, borrower_locale: str | None) -> str:
    return choose(
        request.cookies.get(LANG_COOKIE), borrower_locale, request.headers.get("accept-language")
    )


def page(
    request: Request, template: str, lang: str, status: int = 200, **values: Any
) -> HTMLResponse:
    text = (
        web_state(request)
        .env.get_template(template)
        .render(t=Translator(lang), lang=lang, path=request.url.path, **values)
    )
    response = HTMLResponse(text, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    # No script at all: the page works without JavaScript and loads nothing but its CSS.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    # The token is in the path: never sent on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def company(strategy: Strategy, lang: str) -> str:
    return strategy.company_name_zh if lang == "zh-CN" else strategy.company_name


@dataclass(frozen=True)
class Slot:
    value: str  # ISO, as the form sends it back
    shown: str  # the borrower's clock


@dataclass(frozen=True)
class Sections:
    today: date
    promise_last: date
    counts: list[int]
    count: int | None
    preview: list[PlanRow]
    first_due: date
    first_due_last: date
    slots: list[Slot]
    visit_open: bool
    hardship_days: list[int]
    paused_until: str | None
    pending_promise: c.Promise | None


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def offered_slots(view: c.CaseView, zone: str) -> tuple[bool, list[Slot]]:
    """The slots of the open visit proposal: the core's offered list where the case has one,
    else the wave-1 workflow's single proposed time."""
    visit = next((v for v in reversed(view.visits) if v.outcome is None), None)
    if visit is None:
        return False, []
    times = list(getattr(visit, "offered", None) or [visit.scheduled_at or visit.proposed_at])
    tz = ZoneInfo(zone)
    return True, [Slot(t.isoformat(), t.astimezone(tz).strftime("%Y-%m-%d %H:%M")) for t in times]


def sections(
    view: c.CaseView, strategy: Strategy, zone: str, now: datetime, count: int | None
) -> Sections:
    rules = strategy.negotiation
    today = local_today(now, zone)
    counts = plan_counts(view.balance, rules, view.currency)
    chosen = count if count in counts else None
    first_due = today + timedelta(days=min(7, rules.first_due_within_days))
    preview = plan_preview(view.balance, chosen, first_due) if chosen else []
    visit_open, slots = offered_slots(view, zone)
    paused = view.hardship_until if view.hardship_until and view.hardship_until > now else None
    return Sections(
        today=today,
        promise_last=today + timedelta(days=rules.promise_within_days),
        counts=counts,
        count=chosen,
        preview=preview,
        first_due=first_due,
        first_due_last=today + timedelta(days=rules.first_due_within_days),
        slots=slots,
        visit_open=visit_open and view.stage is Stage.VISIT,
        hardship_days=[d for d in HARDSHIP_DAYS if d <= rules.max_grace_days],
        paused_until=paused.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d") if paused else None,
        pending_promise=next((p for p in view.promises if p.status == "pending"), None),
    )


def money(value: Decimal) -> str:
    return c.money_str(value)
