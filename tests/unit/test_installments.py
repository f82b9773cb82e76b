"""Installment maths: exact sums in Decimal, remainder on the last, bounds with reasons."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.strategy import NegotiationRules
from workflows.installments import plan_problem, split_installments

RULES = NegotiationRules()


def test_remainder_goes_to_the_last_installment() -> None:
    assert split_installments(Decimal("1530.50"), 3) == [
        Decimal("510.16"),
        Decimal("510.16"),
        Decimal("510.18"),
    ]


@given(
    total=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2),
    count=st.integers(min_value=1, max_value=120),
)
def test_sums_are_exact_and_amounts_are_cents(total: Decimal, count: int) -> None:
    """Property: the installments add up to the balance exactly, all in whole cents."""
    if total / count < Decimal("0.01"):
        return
    amounts = split_installments(total, count)
    assert len(amounts) == count
    assert sum(amounts) == total
    assert all(a == a.quantize(Decimal("0.01")) and a > 0 for a in amounts)
    assert max(amounts) - min(amounts) < Decimal("0.01") * count


@given(
    total=st.decimals(min_value=Decimal("100"), max_value=Decimal("1000000"), places=2),
    count=st.integers(min_value=1, max_value=30),
    first=st.integers(min_value=0, max_value=30),
)
def test_accepted_plans_respect_every_bound(total: Decimal, count: int, first: int) -> None:
    """Property: a plan the validator accepts is within every bound of the strategy."""
    if plan_problem(total, count, first, RULES, "CNY") is not None:
        return
    amounts = split_installments(total, count)
    assert RULES.min_installments <= count <= RULES.max_installments
    assert first <= RULES.first_due_within_days
    assert min(amounts) >= total * RULES.min_installment_share - Decimal("0.01")
    assert min(amounts) >= RULES.min_installment_amount


def test_refusals_are_sentences_naming_the_bound() -> None:
    assert plan_problem(Decimal("1530.50"), 13, 7, RULES, "CNY") == (
        "An installment plan must have between 2 and 12 installments; 13 were proposed."
    )
    too_small = plan_problem(Decimal("1530.50"), 12, 7, RULES, "CNY")
    assert too_small is not None and "at least 153.05 CNY" in too_small
    assert "within 14 days" in (plan_problem(Decimal("1530.50"), 3, 20, RULES, "CNY") or "")
    assert plan_problem(Decimal("1530.50"), 3, 7, RULES, "CNY") is None


def test_nothing_to_split_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing left"):
        split_installments(Decimal("0"), 3)
