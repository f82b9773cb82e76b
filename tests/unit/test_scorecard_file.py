"""Scorecard files: clear errors at load, the strategy that names one, treatments' segments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from models.scorecard import ScorecardError, dump_scorecard, load_scorecard_file, parse_scorecard
from models.strategy import StrategyError, load_strategy, load_strategy_file
from tests.factories import STRATEGIES

SHIPPED = STRATEGIES / "scorecards" / "propensity.json"


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return data


def test_the_shipped_scorecard_loads_and_round_trips() -> None:
    card = load_scorecard_file(SHIPPED)
    assert card.ref.startswith("propensity@v") and card.trained["label"].startswith("paid")
    assert parse_scorecard(json.loads(dump_scorecard(card))) == card


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=0), "version: Input should be greater than or equal to 1"),
        (lambda d: d["features"][0].update(name="shoe_size"), "unknown feature 'shoe_size'"),
        (
            lambda d: d["features"][0]["bins"].reverse(),
            "only the last bin has 'below': null",
        ),
        (
            lambda d: d["features"][0]["bins"][-1].update(below="9999"),
            "only the last bin has 'below': null",
        ),
        (lambda d: d["segments"].reverse(), "segments go from the highest min_score down"),
        (lambda d: d.update(features=[d["features"][0]] * 2), "each feature appears once"),
        (
            lambda d: d["features"][6]["categories"].pop(),
            "every category exactly once",
        ),
    ],
)
def test_a_bad_scorecard_is_refused_with_the_field_and_reason(change: Any, message: str) -> None:
    data = shipped()
    assert data["features"][6]["name"] == "default_reason"
    change(data)
    with pytest.raises(ScorecardError) as refused:
        parse_scorecard(data, "bad.json")
    assert "scorecard bad.json is invalid" in str(refused.value)
    assert message in str(refused.value)


def test_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScorecardError, match="is not valid JSON"):
        load_scorecard_file(path)


def test_the_segmented_strategy_carries_its_scorecard_whole() -> None:
    strategy = load_strategy("segmented", STRATEGIES)
    assert strategy.scorecard == load_scorecard_file(SHIPPED)
    assert strategy.negotiation.affordable_share is not None
    assert {t.segment for t in strategy.treatments} == {"hardship"} | {
        s.name for s in strategy.scorecard.segments
    }


def test_a_strategy_naming_a_missing_scorecard_or_unknown_segment_is_refused(
    tmp_path: Path,
) -> None:
    text = (STRATEGIES / "segmented.toml").read_text(encoding="utf-8")
    (tmp_path / "missing.toml").write_text(
        text.replace('scorecard = "propensity"', 'scorecard = "nope"'), encoding="utf-8"
    )
    with pytest.raises(StrategyError, match=r"scorecards/nope.json does not exist"):
        load_strategy_file(tmp_path / "missing.toml")
    shutil.copytree(STRATEGIES / "scorecards", tmp_path / "scorecards")
    (tmp_path / "typo.toml").write_text(
        text.replace('segment = "needs_a_plan"', 'segment = "needs_plan"'), encoding="utf-8"
    )
    with pytest.raises(StrategyError, match="treatment for unknown segment 'needs_plan'"):
        load_strategy_file(tmp_path / "typo.toml")
