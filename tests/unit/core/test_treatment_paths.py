"""Treatments drive the path: under one strategy, borrowers in different segments get different
reminders, waits and offers; a strategy without a scorecard runs exactly as written."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from models import case as c
from models.actions import ActionName as N
from models.common import Channel, Stage
from models.scorecard import Feature, NumberBin, Scorecard, Segment
from models.strategy import Strategy, load_strategy
from tests.factories import STRATEGIES, default_strategy
from tests.unit.core.helpers import OPENED, OPERATOR, act, contacts, run_until
from workflows.core import effects as fx
from workflows.core import entry
from workflows.core.case import Case

D30 = OPENED + timedelta(days=30)


def by_balance() -> Scorecard:
    """A one-feature card: a small balance scores likely_to_pay, a large one unlikely."""
    return Scorecard(
        id="by-balance",
        version=3,
        base_points=600,
        features=(
            Feature(
                name="balance",
                bins=(
                    NumberBin(below=Decimal("2000"), points=50),
                    NumberBin(below=None, points=-50),
                ),
            ),
        ),
        segments=(
            Segment(name="likely_to_pay", min_score=620, label_en="likely", label_zh="有望"),
            Segment(name="needs_a_plan", min_score=580, label_en="plan", label_zh="分期"),
            Segment(name="unlikely_to_pay", min_score=-10_000, label_en="visit", label_zh="上门"),
        ),
    )


def segmented(card: Scorecard | None = None) -> Strategy:
    strategy = load_strategy("segmented", STRATEGIES)
    return strategy if card is None else strategy.model_copy(update={"scorecard": card})


def opened(strategy: Strategy, amount: str) -> Case:
    """A case as the shell opens it (the opening assessment included)."""
    from tests.factories import borrower, loan

    return entry.start(
        "case-T", loan(amount=amount, due=OPENED.date()), borrower(), strategy, OPENED
    )


def entered(case: Case, stage: Stage) -> datetime:
    return next(m.at for m in case.s.stage_history if m.stage is stage)


def events(effects: list[fx.Effect], kind: str) -> list[fx.Event]:
    return [e for e in effects if isinstance(e, fx.Event) and e.kind == kind]


def test_two_segments_under_one_strategy_take_different_paths() -> None:
    """likely_to_pay: two SMS, the usual wait; unlikely_to_pay: every reminder, a visit sooner."""
    strategy = segmented(by_balance())
    light, heavy = opened(strategy, "1000.00"), opened(strategy, "5000.00")
    light_fx, heavy_fx = run_until(light, D30), run_until(heavy, D30)
    assert (light.s.segment, light.s.treatment) == ("likely_to_pay", "light_touch")
    assert (heavy.s.segment, heavy.s.treatment) == ("unlikely_to_pay", "visit_early")
    reminders = [r.channel for r in strategy.reminders]
    sent = [x.channel for x in contacts(light_fx) if x.step.startswith("reminder-")]
    assert sent == [Channel.SMS, Channel.SMS]  # steps 0 and 2; the call and steps 3, 4 skipped
    skipped = {x.step: x.reason for x in light.s.contacts if x.outcome.value == "skipped"}
    assert "SMS only" in skipped["reminder-1"] and "sends 3 reminders" in skipped["reminder-4"]
    heavy_sent = [x.channel for x in contacts(heavy_fx) if x.step.startswith("reminder-")]
    assert heavy_sent == reminders
    # the calendar of the reminders is the same; the wait is the treatment's
    assert entered(light, Stage.WAITING) == entered(heavy, Stage.WAITING)
    light_wait = entered(light, Stage.VISIT) - entered(light, Stage.WAITING)
    heavy_wait = entered(heavy, Stage.VISIT) - entered(heavy, Stage.WAITING)
    assert (light_wait.days, heavy_wait.days) == (strategy.wait.days, 3)
    assert entered(heavy, Stage.VISIT) < entered(light, Stage.VISIT)


def test_each_decision_is_on_record_with_card_score_segment_and_reasons() -> None:
    """The assessment event names the scorecard version, score, segment, treatment and reasons."""
    strategy = segmented(by_balance())
    case = opened(strategy, "5000.00")
    first = events(run_until(case, OPENED), "assessment")[0]
    assert first.details["scorecard"] == "by-balance@v3" and first.details["score"] == "550"
    assert first.details["segment"] == "unlikely_to_pay"
    assert first.details["treatment"] == "visit_early"
    assert "lowers the score by 100 points" in first.details["reason_1_en"]
    assert first.details["reason_1_zh"] and "case opened" in first.summary


def test_a_strategy_without_a_scorecard_runs_as_written() -> None:
    """No assessment, every reminder, the strategy's wait: old cases keep their commands."""
    strategy = default_strategy()
    case = opened(strategy, "5000.00")
    out = run_until(case, D30)
    assert not events(out, "assessment") and case.s.segment is None
    sent = [x.channel for x in contacts(out) if x.step.startswith("reminder-")]
    assert sent == [r.channel for r in strategy.reminders]
    waited = entered(case, Stage.VISIT) - entered(case, Stage.WAITING)
    assert waited.days == strategy.wait.days


def illness(result: c.NegotiationResult = c.NegotiationResult.PROMISE) -> c.NegotiationInput:
    return c.NegotiationInput(
        reason=c.DefaultReason.ILLNESS,
        result=result,
        promise=c.PromiseTerms(amount=Decimal("100.00"), due_in_days=7),
    )


def test_hardship_gets_a_grace_offer_by_sms_once() -> None:
    """Illness as the reason: the hardship treatment offers a grace, on record and by SMS."""
    strategy = segmented()
    case = opened(strategy, "3000.00")
    now = OPENED + timedelta(hours=1)
    out = act(case, N.NEGOTIATION, illness(), OPERATOR, now)
    assert case.s.hardship and case.s.treatment == "hardship_first"
    offer = events(out, "offer")[0]
    assert offer.details["offer"] == "hardship_grace" and offer.details["grace_days"] == "30"
    sms = [x for x in contacts(out) if x.template == "hardship_offer"]
    assert len(sms) == 1 and sms[0].channel is Channel.SMS
    assert case.s.graces_offered == 1
    again = act(case, N.NEGOTIATION, illness(), OPERATOR, now + timedelta(hours=1))
    assert not events(again, "offer")  # the same offer is not repeated


def figures(reason: c.DefaultReason, income: str, expenses: str) -> c.NegotiationInput:
    return illness().model_copy(
        update={
            "reason": reason,
            "monthly_income": Decimal(income),
            "essential_expenses": Decimal(expenses),
        }
    )


def test_the_offer_is_the_calculators_grace_or_plan() -> None:
    """No affordable plan: a grace; illness, even with the means: a grace; means and no
    illness: no hardship, no offer; illness after the graces are used: the calculator's plan."""
    strategy = segmented()
    now = OPENED + timedelta(hours=1)
    tight = opened(strategy, "6000.00")  # 100 a month to spare: no plan of 12 fits
    act(tight, N.NEGOTIATION, figures(c.DefaultReason.UNEMPLOYMENT, "3000", "2900"), OPERATOR, now)
    assert tight.s.hardship and tight.s.last_offer == "hardship_grace:0:30"
    ill = opened(strategy, "3000.00")  # 3000 to spare, half of it an installment
    out = act(ill, N.NEGOTIATION, figures(c.DefaultReason.ILLNESS, "5000", "2000"), OPERATOR, now)
    assert events(out, "offer")[0].details["offer"] == "hardship_grace"
    ill.s.graces_used = strategy.negotiation.max_graces  # both graces taken: a plan it is
    later = act(ill, N.NEGOTIATION, figures(c.DefaultReason.ILLNESS, "5000", "2000"), OPERATOR, now)
    offer = events(later, "offer")[0]
    assert offer.details["offer"] == "plan" and offer.details["count"] == "2"
    assert ill.s.graces_offered == 1 and ill.s.offers_made == 2
    able = opened(strategy, "3000.00")
    out = act(able, N.NEGOTIATION, figures(c.DefaultReason.FORGOT, "5000", "2000"), OPERATOR, now)
    assert not able.s.hardship and not events(out, "offer") and able.s.offers_made == 0


def test_no_offer_while_a_grace_runs() -> None:
    """A grace agreed in the negotiation itself: the borrower has it, nothing more is offered."""
    case = opened(segmented(), "6000.00")
    grace = figures(c.DefaultReason.UNEMPLOYMENT, "3000", "2900").model_copy(
        update={"result": c.NegotiationResult.HARDSHIP_GRACE, "grace_days": 30, "promise": None}
    )
    out = act(case, N.NEGOTIATION, grace, OPERATOR, OPENED + timedelta(hours=1))
    assert case.s.hardship and case.s.graces_used == 1
    assert not events(out, "offer") and not [x for x in contacts(out) if x.step.startswith("offer")]


def test_a_hardship_first_treatment_needs_its_offer_template() -> None:
    """Refused at load: a hardship_first treatment without the hardship_offer SMS."""
    import pytest

    from models.strategy import parse_strategy

    data = segmented().model_dump(mode="json", by_alias=True)
    del data["templates"]["hardship_offer"]
    with pytest.raises(ValueError, match="hardship_offer"):
        parse_strategy(data)
