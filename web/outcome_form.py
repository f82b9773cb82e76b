"""The outcome form's fields, read into the case's own inputs, each bad field named.

Errors are catalogue keys by field name, so the page shows each beside its field and the
offline queue shows the same sentence when a queued outcome comes back refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError

from models import case as c
from web.outcomes import REF_PATTERN, Outcome
from web.plans import FREQUENCY_DAYS, money

MAX_NOTES = 2000
R = c.NegotiationResult


@dataclass
class Parsed:
    outcome: Outcome | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _int(value: str | None, low: int, high: int) -> int | None:
    text = (value or "").strip()
    if not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def _checked_in(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _means(form: dict[str, str], errors: dict[str, str]) -> tuple[Decimal | None, Decimal | None]:
    found: list[Decimal | None] = []
    for name in ("income", "expenses"):
        try:
            found.append(money(form.get(name)))
        except ValueError:
            errors[name] = "today.bad_amount"
            found.append(None)
    return found[0], found[1]


def _result(form: dict[str, str], errors: dict[str, str]) -> dict[str, object]:
    """The negotiation result's own fields, by which result was chosen."""
    try:
        result = R(form.get("result", ""))
    except ValueError:
        errors["result"] = "today.choose_result"
        return {}
    terms: dict[str, object] = {"result": result}
    if result is R.INSTALLMENT_PLAN:
        count = _int(form.get("plan"), 1, 120)
        if count is None:
            errors["plan"] = "today.choose_plan"
        else:
            terms["plan"] = c.PlanTerms(
                count=count, frequency_days=FREQUENCY_DAYS,
                first_due_in_days=_int(form.get("first_due_in_days"), 0, 3650) or 7,
            )  # fmt: skip
    elif result is R.PROMISE:
        try:
            amount = money(form.get("promise_amount"))
        except ValueError:
            amount = None
        days = _int(form.get("promise_days"), 0, 3650)
        if not amount:
            errors["promise_amount"] = "today.bad_amount"
        elif days is None:
            errors["promise_days"] = "today.bad_days"
        else:
            terms["promise"] = c.PromiseTerms(amount=amount, due_in_days=days)
    elif result is R.HARDSHIP_GRACE:
        days = _int(form.get("grace_days"), 1, 365)
        if days is None:
            errors["grace_days"] = "today.bad_days"
        terms["grace_days"] = days
    return terms


def parse(form: dict[str, str]) -> Parsed:
    errors: dict[str, str] = {}
    ref = form.get("ref", "")
    if not REF_PATTERN.fullmatch(ref):
        errors["ref"] = "today.bad_ref"
    try:
        outcome = c.VisitOutcome(form.get("outcome", ""))
    except ValueError:
        errors["outcome"] = "today.choose_outcome"
        outcome = c.VisitOutcome.NOT_HOME
    notes = " ".join(form.get("notes", "").replace("\x00", "").split())[:MAX_NOTES]
    negotiation = None
    if outcome is c.VisitOutcome.MET and form.get("reason"):
        negotiation = _negotiation(form, notes, errors)
    if errors:
        return Parsed(errors=errors)
    checked = _checked_in(form.get("checked_in_at"))
    return Parsed(Outcome(ref, outcome, notes, checked, negotiation))


def _negotiation(
    form: dict[str, str], notes: str, errors: dict[str, str]
) -> c.NegotiationInput | None:
    try:
        reason = c.DefaultReason(form.get("reason", ""))
    except ValueError:
        errors["reason"] = "today.choose_reason"
        return None
    income, expenses = _means(form, errors)
    terms = _result(form, errors)
    if errors:
        return None
    try:
        return c.NegotiationInput(
            reason=reason, monthly_income=income, essential_expenses=expenses, notes=notes,
            **terms,  # the result's own fields; pydantic checks them
        )  # fmt: skip
    except ValidationError:
        errors["result"] = "today.choose_result"
        return None
