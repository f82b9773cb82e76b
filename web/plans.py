"""The field collector's plan calculator: only plans the strategy's bounds allow.

The bounds are the case core's own (``workflows.core.installments.plan_problem``, a pure
function), so the calculator cannot offer a plan the case would refuse for its shape. The
affordability figure (income less essential expenses) only marks which of those plans the
borrower can carry; the page hides the others as the collector types, offline too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from models.strategy import NegotiationRules
from workflows.core.installments import plan_problem, split_installments

# Installments a month apart: what a borrower paid monthly can follow.
FREQUENCY_DAYS = 30
MAX_MONEY = Decimal("1000000000")


@dataclass(frozen=True)
class PlanOption:
    count: int
    amount: Decimal  # each installment but the last (which takes the remainder)
    last: Decimal
    first_due_in_days: int


def offered_plans(balance: Decimal, rules: NegotiationRules, currency: str) -> list[PlanOption]:
    """Every installment count within the bounds, first installment due a week out (or at the
    strategy's latest first due day, if that is sooner)."""
    if balance <= 0:
        return []
    first = min(7, rules.first_due_within_days)
    options = []
    for count in range(rules.min_installments, rules.max_installments + 1):
        if plan_problem(balance, count, first, rules, currency) is None:
            amounts = split_installments(balance, count)
            options.append(PlanOption(count, amounts[0], amounts[-1], first))
    return options


def affordable(options: list[PlanOption], disposable: Decimal | None) -> list[PlanOption]:
    """The plans whose monthly installment fits what is left after essential expenses."""
    if disposable is None:
        return options
    return [o for o in options if max(o.amount, o.last) <= disposable]


def money(value: str | None) -> Decimal | None:
    """A non-negative amount typed in a form, or None when blank; ValueError when it is not."""
    text = (value or "").strip().replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as err:
        raise ValueError(text) from err
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise ValueError(text)
    return amount
