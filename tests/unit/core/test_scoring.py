"""Scoring is pure and replays; reasons in plain words; nothing protected or about health."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import pytest

from models.case import ContactOutcome
from models.common import Channel
from models.scorecard import (
    FEATURES,
    CaseFeatures,
    Scorecard,
    ScorecardError,
    forbidden_word,
    parse_scorecard,
)
from models.strategy import Strategy, load_strategy
from tests.factories import STRATEGIES
from tests.unit.core.helpers import OPENED, new_case
from workflows.core import scoring
from workflows.core.case import Case
from workflows.core.state import CaseState, Commitment, Contact

D20 = OPENED + timedelta(days=20)


def segmented() -> Strategy:
    return load_strategy("segmented", STRATEGIES)


def card() -> Scorecard:
    found = segmented().scorecard
    assert found is not None
    return found


def busy_case(**borrower: object) -> Case:
    """A case twenty days in: four contacts (one answered), a promise kept, one broken."""
    case = new_case(segmented(), amount="2500.00", **borrower)
    s = case.s
    for i, connected in enumerate((False, True, False, False)):
        s.contacts.append(
            Contact(
                key=f"k{i}",
                channel=Channel.CALL,
                step=f"r{i}",
                at=OPENED + timedelta(days=i),
                outcome=ContactOutcome.ANSWERED if connected else ContactOutcome.UNANSWERED,
                connected=connected,
            )
        )
    statuses: tuple[tuple[int, Literal["kept", "broken"]], ...] = ((1, "kept"), (2, "broken"))
    for no, status in statuses:
        s.commitments.append(
            Commitment(
                no=no,
                kind="promise",
                amount=Decimal("100"),
                due_at=OPENED,
                due_date=OPENED.date(),
                paid_before=Decimal("0"),
                target=Decimal("100"),
                status=status,
            )
        )
    s.monthly_income, s.essential_expenses = Decimal("5000"), Decimal("4500")
    s.default_reason = "unemployment"
    return case


def test_features_are_what_the_case_knows_at_the_scoring_point() -> None:
    case = busy_case()
    f = scoring.features(case.s, case.strategy, D20)
    assert f.days_past_due == 20 and f.balance == Decimal("2500.00")
    assert (f.contact_attempts, f.answer_rate) == (4, Decimal("0.2500"))
    assert (f.promises_kept, f.promises_broken) == (1, 1)
    assert f.default_reason == "unemployment" and f.affordability == Decimal("0.2000")


def test_the_same_case_scores_the_same_on_replay() -> None:
    case = busy_case()
    first = scoring.score_case(case.s, case.strategy, D20)
    # as the state and strategy come back from a history or a continue-as-new
    state = CaseState.model_validate_json(case.s.model_dump_json())
    strategy = Strategy.model_validate_json(case.strategy.model_dump_json(by_alias=True))
    again = scoring.score_case(state, strategy, D20)
    assert first is not None and first == again
    assert first.scorecard == "propensity@v1"


def test_score_segment_and_top_three_reasons_in_plain_words() -> None:
    case = busy_case()
    result = scoring.score_case(case.s, case.strategy, D20)
    assert result is not None
    f = scoring.features(case.s, case.strategy, D20)
    expected = card().base_points
    for feature in card().features:
        expected += scoring._place(feature, f.value(feature.name))[1]
    assert result.score == expected
    floors = {s.name: s.min_score for s in card().segments}
    assert result.score >= floors[result.segment]
    assert 1 <= len(result.reasons) <= 3
    lost = [r.points_lost for r in result.reasons]
    assert lost == sorted(lost, reverse=True) and all(n > 0 for n in lost)
    for reason in result.reasons:
        assert FEATURES[reason.feature].label_en in reason.en and "points" in reason.en
        assert FEATURES[reason.feature].label_zh in reason.zh and "分" in reason.zh
    assert result.reasons[0].en in result.summary()


def test_no_scorecard_no_score() -> None:
    case = new_case()
    assert scoring.score_case(case.s, case.strategy, OPENED) is None


def test_no_protected_characteristic_or_health_datum_is_a_feature() -> None:
    names = [*FEATURES, *(f.name for f in dataclasses.fields(CaseFeatures))]
    assert all(forbidden_word(n) is None for n in names), names
    categories = [key for spec in FEATURES.values() for key, _, _ in spec.categories]
    assert "illness" not in categories and all(forbidden_word(k) is None for k in categories)
    assert {f.name for f in card().features} <= set(FEATURES)
    # the guard itself catches them
    for word in ("age", "gender", "borrower_name", "ethnicity", "region", "illness", "health"):
        assert forbidden_word(word) is not None, word


def test_who_the_borrower_is_and_where_they_live_do_not_change_the_score() -> None:
    one = busy_case(name="王芳", region="hz-west", locale="zh-CN", address="杭州市")
    other = busy_case(name="John Smith", region="xj-north", locale="en", address="Urumqi")
    assert scoring.features(one.s, one.strategy, D20) == scoring.features(
        other.s, other.strategy, D20
    )
    assert scoring.score_case(one.s, one.strategy, D20) == scoring.score_case(
        other.s, other.strategy, D20
    )


def test_illness_never_scores_it_reads_as_an_undisclosed_reason() -> None:
    ill, silent = busy_case(), busy_case()
    ill.s.default_reason, silent.s.default_reason = "illness", None
    assert scoring.features(ill.s, ill.strategy, D20).default_reason == "undisclosed"
    assert scoring.score_case(ill.s, ill.strategy, D20) == scoring.score_case(
        silent.s, silent.strategy, D20
    )


def test_a_scorecard_naming_a_protected_or_health_feature_is_refused() -> None:
    data = card().model_dump(mode="json")
    for bad in ("age", "region", "health_score"):
        data["features"] = [{"name": bad, "bins": [{"below": None, "points": 1}]}]
        with pytest.raises(ScorecardError, match="protected characteristic or health data"):
            parse_scorecard(data, "x.json")
    data["features"] = [
        {
            "name": "default_reason",
            "categories": [
                {"values": ["illness"], "points": -40},
                {"values": ["unemployment", "business_failure", "forgot"], "points": 0},
                {"values": ["dispute", "other", "undisclosed"], "points": 0},
            ],
        }
    ]
    with pytest.raises(ScorecardError, match="'illness' is health data"):
        parse_scorecard(data, "x.json")


def test_assessments_are_on_record_at_stage_boundaries_and_after_negotiation() -> None:
    from models import case as c
    from models.actions import ActionName as N
    from tests.unit.core.helpers import OPERATOR, act, run_until
    from workflows.core import effects as fx

    case = new_case(segmented(), amount="3000.00")
    effects = run_until(case, OPENED + timedelta(days=12))
    assessed = [e for e in effects if isinstance(e, fx.Event) and e.kind == "assessment"]
    assert assessed and assessed[0].summary.startswith("entered waiting")
    first = assessed[0].details
    assert first["scorecard"] == "propensity@v1" and first["segment"] == case.s.segment
    assert first["reason_1_en"] and first["reason_1_zh"]
    ill = c.NegotiationInput(
        reason=c.DefaultReason.ILLNESS,
        result=c.NegotiationResult.PROMISE,
        promise=c.PromiseTerms(amount=Decimal("100"), due_in_days=3),
    )
    after = act(case, N.NEGOTIATION, ill, OPERATOR, OPENED + timedelta(days=12))
    again = [e for e in after if isinstance(e, fx.Event) and e.kind == "assessment"]
    assert len(again) == 1  # once per action, whether or not the stage moved
    assert again[0].details["treatment"] == "hardship_first" == case.s.treatment
