"""The borrower page's forms as the case's action inputs: a missing or malformed field gives
None (the page answers 422 with one calm sentence), never an exception."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from models import case as c
from models.common import Actor, Channel
from web import borrower_actions as actions


def channel(value: str) -> Channel | None:
    try:
        return Channel(value)
    except ValueError:
        return None


def day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def action_input(what: str, form: dict[str, str], who: Actor, zone: str) -> c.ActorAction | None:
    """The action's input from the form, or None where a field is missing or malformed."""
    try:
        if what == "promise":
            due, amount = day(form.get("date", "")), Decimal(form.get("amount", "") or "x")
            return actions.promise(who, amount, due) if due and amount > 0 else None
        if what == "plan":
            first = day(form.get("first_due", ""))
            count = form.get("count", "")
            return actions.plan(who, int(count), first) if first and count.isdigit() else None
        if what == "hardship":
            reason = c.DefaultReason(form.get("reason", "other"))
            days = form.get("days", "")
            return (
                actions.hardship(who, int(days), reason, form.get("text", ""))
                if days.isdigit()
                else None
            )
        if what == "dispute":
            return actions.dispute(who, form.get("text", "") or "disputed on the borrower's page")
        if what == "visit":
            answer = form.get("answer", "")
            moment = slot(form.get("slot", ""), zone)
            if answer not in ("accept", "propose", "reschedule"):
                return None
            return actions.visit_answer(who, answer, moment)
    except (ValueError, InvalidOperation):
        return None
    return None


def slot(value: str, zone: str) -> datetime | None:
    """An offered slot comes back in ISO with its offset; a proposed one is the borrower's
    local time from a datetime-local field."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def hours(form: dict[str, str], start_hour: int, end_hour: int) -> tuple[time, time] | None:
    """Preferred contact hours from two whole-hour fields, inside the strategy's window."""
    first, last = form.get("from", ""), form.get("to", "")
    if not (first.isdigit() and last.isdigit()):
        return None
    a, b = int(first), int(last)
    if not start_hour <= a < b <= end_hour:
        return None
    return time(a), (time(b) if b < 24 else time(23, 59))
