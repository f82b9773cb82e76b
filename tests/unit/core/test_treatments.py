"""Segments pick treatments: path and bounds per segment, hardship first, defaults as written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.strategy import Strategy, load_strategy
from models.treatments import Path, Treatment
from tests.factories import STRATEGIES, default_strategy
from tests.unit.core.helpers import new_case
from workflows.core import treatments


def segmented() -> Strategy:
    return load_strategy("segmented", STRATEGIES)


def test_each_segment_gets_its_treatment() -> None:
    strategy = segmented()
    light = treatments.choose(strategy, "likely_to_pay")
    assert light.path is Path.LIGHT_TOUCH and light.max_reminders == 3
    assert light.wait_days == strategy.wait.days  # not given: as written
    visit = treatments.choose(strategy, "unlikely_to_pay")
    assert visit.path is Path.VISIT_EARLY and visit.wait_days == 3
    assert visit.max_reminders == len(strategy.reminders)
    assert treatments.choose(strategy, "needs_a_plan").negotiation == strategy.negotiation


def test_hardship_is_routed_before_the_segment() -> None:
    choice = treatments.choose(segmented(), "likely_to_pay", hardship=True)
    assert choice.path is Path.HARDSHIP_FIRST and choice.segment == "likely_to_pay"
    assert choice.negotiation.max_grace_days == 30 and "hardship" in choice.why


def test_a_strategy_without_treatments_behaves_as_written() -> None:
    strategy = default_strategy()
    choice = treatments.choose(strategy, "unlikely_to_pay", hardship=True)
    assert choice.path is Path.STANDARD and choice.negotiation == strategy.negotiation
    assert choice.wait_days == strategy.wait.days


def test_a_treatment_cannot_break_the_bounds() -> None:
    bad = Treatment(segment="needs_a_plan", max_installments=2, min_installments=6)
    strategy = segmented().model_copy(update={"treatments": (bad,)})
    with pytest.raises(ValidationError, match="max_installments must be at least"):
        treatments.choose(strategy, "needs_a_plan")


def test_illness_or_no_affordable_plan_is_hardship_lower_income_alone_is_not() -> None:
    strategy = segmented()
    ill = new_case(strategy, amount="3000.00")
    ill.s.default_reason = "illness"
    assert treatments.in_hardship(ill.s, strategy)
    poor = new_case(strategy, amount="6000.00")
    poor.s.monthly_income, poor.s.essential_expenses = Decimal("3000"), Decimal("2900")
    assert treatments.in_hardship(poor.s, strategy)  # 50 a month buys no plan of 12
    able = new_case(strategy, amount="3000.00")
    able.s.monthly_income, able.s.essential_expenses = Decimal("4200"), Decimal("3100")
    assert not treatments.in_hardship(able.s, strategy)
    unknown = new_case(strategy, amount="3000.00")
    assert not treatments.in_hardship(unknown.s, strategy)


def test_the_bounds_in_force_follow_the_last_assessment() -> None:
    from models import case as c
    from models.actions import ActionName as N
    from tests.unit.core.helpers import OPENED, OPERATOR, act
    from workflows.core.refusal import Refusal

    short = Treatment(segment="hardship", path=Path.HARDSHIP_FIRST, max_installments=6)
    strategy = segmented().model_copy(update={"treatments": (short,)})
    case = new_case(strategy, amount="2400.00")
    assert treatments.rules_in_force(case.s, strategy) == strategy.negotiation  # not assessed
    case.s.default_reason = "illness"
    case.assess("test", OPENED)
    assert case.s.hardship and treatments.rules_in_force(case.s, strategy).max_installments == 6
    plan = c.NegotiationInput(
        reason=c.DefaultReason.ILLNESS,
        result=c.NegotiationResult.INSTALLMENT_PLAN,
        plan=c.PlanTerms(count=8, frequency_days=30, first_due_in_days=3),
    )
    with pytest.raises(Refusal, match="between 2 and 6"):  # 8 would fit the strategy as written
        act(case, N.NEGOTIATION, plan, OPERATOR, OPENED)
    # 250 a month needs 10 installments of 240; the treatment allows 6: a grace instead
    offer = treatments.propose_for(
        case.s, strategy, income=Decimal("2000"), expenses=Decimal("1500")
    )
    assert offer.kind == "hardship_grace"
    assert treatments.propose_for(case.s, strategy).needs_income  # no figures known yet
