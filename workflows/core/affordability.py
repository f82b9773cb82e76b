"""Affordability (DESIGN §9): what a borrower can pay a month, and the plan that fits it.

Disposable income is monthly income less essential expenses. A plan's installment may take at
most the strategy's ``affordable_share`` of it, scaled to the plan's frequency (a weekly
installment is held to a quarter of a monthly one, roughly). The calculator lives here, once:
the console, the borrower's page and the Negotiation check all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Literal

from models.strategy import NegotiationRules
from workflows.core import installments

CENT = Decimal("0.01")
MONTH_DAYS = 30  # installments are compared with a monthly income over a 30-day month


def disposable_income(income: Decimal | None, expenses: Decimal | None) -> Decimal | None:
    """Income less essential expenses, never below zero; None when either figure is unknown."""
    if income is None or expenses is None:
        return None
    return max(Decimal("0"), income - expenses)


def installment_limit(
    disposable: Decimal, share: Decimal, frequency_days: int = MONTH_DAYS
) -> Decimal:
    """The largest installment the strategy allows for this disposable income and frequency."""
    monthly = disposable * share
    return (monthly * frequency_days / MONTH_DAYS).quantize(CENT, rounding=ROUND_DOWN)


def disposable_needed(
    installment: Decimal, share: Decimal, frequency_days: int = MONTH_DAYS
) -> Decimal:
    """The least disposable income under which ``installment`` is within the limit: what a
    calculator that filters as the borrower's figures are typed compares them with."""
    per_month = share * frequency_days / MONTH_DAYS
    return (installment / per_month).quantize(CENT, rounding=ROUND_UP)


@dataclass(frozen=True)
class Unaffordable:
    """Why a plan is refused: its largest installment against the limit."""

    installment: Decimal
    limit: Decimal
    disposable: Decimal
    share: Decimal

    def params(self, currency: str) -> dict[str, str]:
        return {
            "installment": f"{self.installment} {currency}",
            "limit": f"{self.limit} {currency}",
            "disposable": f"{self.disposable} {currency}",
            "share": f"{self.share * 100:.0f}",
        }


def unaffordable(
    total: Decimal,
    count: int,
    frequency_days: int,
    disposable: Decimal | None,
    rules: NegotiationRules,
) -> Unaffordable | None:
    """The plan's problem when its installments exceed what the borrower can pay; else None.

    No check without income data or without a share in the strategy (today's behaviour)."""
    share = rules.affordable_share
    if disposable is None or share is None or count < 1 or total <= 0:
        return None
    largest = max(installments.split_installments(total, count))
    limit = installment_limit(disposable, share, frequency_days)
    if largest <= limit:
        return None
    return Unaffordable(installment=largest, limit=limit, disposable=disposable, share=share)


ProposalKind = Literal["plan", "standard_plan", "hardship_grace", "none"]


@dataclass(frozen=True)
class Proposal:
    """What the calculator proposes; ``why`` is a sentence for the person choosing."""

    kind: ProposalKind
    count: int = 0
    frequency_days: int = MONTH_DAYS
    installments: tuple[Decimal, ...] = ()
    grace_days: int = 0
    needs_income: bool = False
    why: str = ""


def _fits_bounds(total: Decimal, count: int, rules: NegotiationRules, currency: str) -> bool:
    return installments.plan_problem(total, count, 0, rules, currency) is None


def propose(
    total: Decimal,
    disposable: Decimal | None,
    rules: NegotiationRules,
    currency: str,
    *,
    frequency_days: int = MONTH_DAYS,
    graces_used: int = 0,
) -> Proposal:
    """The shortest plan within the strategy's bounds that the borrower can afford.

    Without income data: the strategy's shortest standard plan, and a request for the figures.
    With income data and no affordable plan: a hardship grace (while the strategy allows one).
    """
    counts = range(rules.min_installments, rules.max_installments + 1)
    in_bounds = [n for n in counts if total > 0 and _fits_bounds(total, n, rules, currency)]
    if disposable is None or rules.affordable_share is None:
        if not in_bounds:
            return Proposal(kind="none", why="No plan fits the strategy's bounds for this balance.")
        n = in_bounds[0]
        return Proposal(
            kind="standard_plan",
            count=n,
            frequency_days=frequency_days,
            installments=tuple(installments.split_installments(total, n)),
            needs_income=disposable is None,
            why=f"The strategy's shortest plan: {n} installments. Ask for income and expenses "
            "to check that the borrower can keep it."
            if disposable is None
            else f"The strategy's shortest plan: {n} installments.",
        )
    for n in in_bounds:
        if unaffordable(total, n, frequency_days, disposable, rules) is None:
            return Proposal(
                kind="plan",
                count=n,
                frequency_days=frequency_days,
                installments=tuple(installments.split_installments(total, n)),
                why=f"The shortest plan the borrower can afford: {n} installments.",
            )
    limit = installment_limit(disposable, rules.affordable_share, frequency_days)
    if graces_used < rules.max_graces:
        return Proposal(
            kind="hardship_grace",
            grace_days=rules.max_grace_days,
            why=f"No plan of at most {rules.max_installments} installments stays within "
            f"{limit} {currency} per installment: offer a hardship grace of "
            f"{rules.max_grace_days} days, then assess again.",
        )
    return Proposal(
        kind="none",
        why=f"No plan stays within {limit} {currency} per installment and the case has had "
        f"its {rules.max_graces} hardship graces: refer it to a supervisor.",
    )
