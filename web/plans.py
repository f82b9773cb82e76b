"""The field collector's plan calculator: only plans the strategy's bounds allow.

The bounds and the affordability rule are the case core's own
(``workflows.core.installments.plan_problem``, ``workflows.core.affordability``), so the
calculator cannot offer a plan the case would refuse. Each plan carries the least disposable
income (income less essential expenses) under which the strategy's share allows it; the page
hides the others as the collector types, offline too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from models.strategy import NegotiationRules
from workflows.core.affordability import disposable_needed, unaffordable
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
    # The disposable income this plan needs under the strategy's share; None: no such rule.
    needs: Decimal | None = None


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
            share = rules.affordable_share
            needs = (
                None if share is None else disposable_needed(max(amounts), share, FREQUENCY_DAYS)
            )
            options.append(PlanOption(count, amounts[0], amounts[-1], first, needs))
    return options


def affordable(
    options: list[PlanOption], disposable: Decimal | None, balance: Decimal, rules: NegotiationRules
) -> list[PlanOption]:
    """The plans the core's affordability rule allows for what is left after expenses."""
    return [
        o
        for o in options
        if unaffordable(balance, o.count, FREQUENCY_DAYS, disposable, rules) is None
    ]


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
