"""Installment and promise maths in Decimal: exact sums, bounds from the strategy."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from models.strategy import NegotiationRules

CENT = Decimal("0.01")


def split_installments(total: Decimal, count: int) -> list[Decimal]:
    """Equal installments rounded down to the cent; the remainder goes to the last one."""
    if count < 1:
        raise ValueError("an installment plan needs at least one installment")
    if total <= 0:
        raise ValueError("there is nothing left to spread over installments")
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    amounts = [base] * count
    amounts[-1] = total - base * (count - 1)
    return amounts


def plan_problem(
    total: Decimal, count: int, first_due_in_days: int, rules: NegotiationRules, currency: str
) -> str | None:
    """Why a proposed plan breaks the strategy's bounds, as a sentence; None when it fits."""
    if not rules.min_installments <= count <= rules.max_installments:
        return (
            f"An installment plan must have between {rules.min_installments} and "
            f"{rules.max_installments} installments; {count} were proposed."
        )
    if first_due_in_days < 0:
        return "The first installment cannot be due in the past."
    if first_due_in_days > rules.first_due_within_days:
        return (
            f"The first installment must be due within {rules.first_due_within_days} days; "
            f"it was proposed {first_due_in_days} days out."
        )
    smallest = min(split_installments(total, count))
    floor = max((total * rules.min_installment_share).quantize(CENT), rules.min_installment_amount)
    if smallest < floor:
        return (
            f"Each installment must be at least {floor} {currency} "
            f"({rules.min_installment_share * 100:.0f}% of the balance and at least "
            f"{rules.min_installment_amount}); {count} installments of {total} {currency} "
            f"give {smallest}. Propose fewer installments."
        )
    return None
