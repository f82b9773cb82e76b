"""Affordability: plans the borrower cannot keep are refused; the calculator's proposals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.strategy import NegotiationRules
from tests.factories import default_strategy
from tests.unit.core.helpers import OPENED, OPERATOR, act, new_case, stage_of
from workflows.core import affordability as af
from workflows.core.refusal import Refusal

SHARE = Decimal("0.5")


def strict(**changes: object) -> NegotiationRules:
    base = default_strategy().negotiation.model_dump()
    return NegotiationRules.model_validate({**base, "affordable_share": SHARE, **changes})


def plan(
    count: int, income: str | None, expenses: str | None, every: int = 30
) -> c.NegotiationInput:
    return c.NegotiationInput(
        reason=c.DefaultReason.UNEMPLOYMENT,
        monthly_income=None if income is None else Decimal(income),
        essential_expenses=None if expenses is None else Decimal(expenses),
        result=c.NegotiationResult.INSTALLMENT_PLAN,
        plan=c.PlanTerms(count=count, frequency_days=every, first_due_in_days=3),
    )


def test_disposable_income_is_income_less_expenses_never_negative() -> None:
    assert af.disposable_income(Decimal("4200"), Decimal("3100")) == Decimal("1100")
    assert af.disposable_income(Decimal("2000"), Decimal("2600")) == Decimal("0")
    assert af.disposable_income(None, Decimal("100")) is None


def test_a_plan_over_the_share_of_disposable_income_is_refused_in_both_languages() -> None:
    strategy = default_strategy()
    strategy = strategy.model_copy(update={"negotiation": strict()})
    case = new_case(strategy, amount="3000.00")
    # 1,100 disposable x 50% = 550 a month; 3 x 1,000 is too much
    with pytest.raises(Refusal) as refused:
        act(case, N.NEGOTIATION, plan(3, "4200", "3100"), OPERATOR, OPENED)
    assert refused.value.code == "unaffordable"
    assert "1000.00 CNY" in refused.value.en and "550.00 CNY" in refused.value.en
    assert "可支配收入" in refused.value.zh and "1100 CNY" in refused.value.zh
    assert not case.s.commitments  # refused whole


def test_an_affordable_plan_is_agreed_and_the_figures_are_kept_for_the_next_check() -> None:
    strategy = default_strategy().model_copy(update={"negotiation": strict()})
    case = new_case(strategy, amount="3000.00")
    act(case, N.NEGOTIATION, plan(6, "4200", "3100"), OPERATOR, OPENED)  # 6 x 500 <= 550
    assert len(case.s.commitments) == 6
    assert case.s.monthly_income == Decimal("4200") and case.s.default_reason == "unemployment"
    # a later plan without figures is held to the ones the case learnt
    with pytest.raises(Refusal) as refused:
        act(case, N.NEGOTIATION, plan(2, None, None), OPERATOR, OPENED)
    assert refused.value.code == "unaffordable"


def test_weekly_installments_are_held_to_a_weekly_share() -> None:
    rules = strict()
    # 550 a month is 128.33 a week; 8 weekly installments of 100 fit, 4 of 200 do not
    assert af.unaffordable(Decimal("800"), 8, 7, Decimal("1100"), rules) is None
    too_much = af.unaffordable(Decimal("800"), 4, 7, Decimal("1100"), rules)
    assert too_much is not None and too_much.limit == Decimal("128.33")


def test_a_strategy_file_without_a_share_gets_the_default_one() -> None:
    """DESIGN §9: the rule is on unless a file names its own share (default.toml names none)."""
    from models.strategy import DEFAULT_AFFORDABLE_SHARE

    assert default_strategy().negotiation.affordable_share == DEFAULT_AFFORDABLE_SHARE
    case = new_case(amount="3000.00")
    with pytest.raises(Refusal, match="disposable"):
        act(case, N.NEGOTIATION, plan(2, "1000", "990"), OPERATOR, OPENED)


def test_without_income_data_or_a_share_nothing_changes() -> None:
    """A strategy carried by an older case has no share (the field's default): no check."""
    old = default_strategy()
    old = old.model_copy(
        update={"negotiation": old.negotiation.model_copy(update={"affordable_share": None})}
    )
    case = new_case(old, amount="3000.00")
    act(case, N.NEGOTIATION, plan(2, "1000", "990"), OPERATOR, OPENED)
    assert len(case.s.commitments) == 2
    assert af.unaffordable(Decimal("3000"), 2, 30, None, strict()) is None


def test_the_calculator_proposes_the_shortest_affordable_plan_within_bounds() -> None:
    proposal = af.propose(Decimal("3000"), Decimal("1100"), strict(), "CNY")
    assert proposal.kind == "plan" and proposal.count == 6
    assert max(proposal.installments) <= Decimal("550") and sum(proposal.installments) == 3000
    # weekly: at most 128.33 an installment; the strategy's floor is 120 (10% of 1,200)
    weekly = af.propose(Decimal("1200"), Decimal("1100"), strict(), "CNY", frequency_days=7)
    assert weekly.kind == "plan" and weekly.count == 10
    # fortnightly on 3,000: 256.66 at most, but the floor of 300 allows no more than 10
    fortnightly = af.propose(Decimal("3000"), Decimal("1100"), strict(), "CNY", frequency_days=14)
    assert fortnightly.kind == "hardship_grace"


def test_with_no_affordable_plan_it_proposes_a_hardship_grace_then_a_referral() -> None:
    rules = strict(max_installments=6)
    grace = af.propose(Decimal("6000"), Decimal("400"), rules, "CNY")
    assert grace.kind == "hardship_grace" and grace.grace_days == rules.max_grace_days
    assert "200.00 CNY" in grace.why
    spent = af.propose(Decimal("6000"), Decimal("400"), rules, "CNY", graces_used=rules.max_graces)
    assert spent.kind == "none" and "supervisor" in spent.why


def test_without_income_data_it_offers_the_standard_plan_and_asks_for_the_figures() -> None:
    proposal = af.propose(Decimal("3000"), None, strict(), "CNY")
    assert proposal.kind == "standard_plan" and proposal.needs_income
    assert proposal.count == default_strategy().negotiation.min_installments


def test_the_proposal_passes_the_negotiation_check() -> None:
    strategy = default_strategy().model_copy(update={"negotiation": strict()})
    case = new_case(strategy, amount="2750.00")
    proposal = af.propose(case.s.balance, Decimal("1100"), strategy.negotiation, "CNY")
    act(case, N.NEGOTIATION, plan(proposal.count, "4200", "3100"), OPERATOR, OPENED)
    assert len(case.s.commitments) == proposal.count and stage_of(case).value == "follow_up"
