"""Strategy files: loaded, validated with field and reason, templates linted at load."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from models.settings import PROJECT_ROOT
from models.strategy import (
    StrategyError,
    challenger_bucket,
    choose_strategy,
    load_all_strategies,
    load_strategy_file,
    parse_strategy,
    render,
)

STRATEGIES = PROJECT_ROOT / "strategies"


def _default_data() -> dict[str, object]:
    return tomllib.loads((STRATEGIES / "default.toml").read_text(encoding="utf-8"))


def test_shipped_strategies_load_and_are_frozen() -> None:
    loaded = load_all_strategies(STRATEGIES)
    assert {"default", "demo"} <= set(loaded)
    default = loaded["default"]
    assert [(r.day, r.channel.value) for r in default.reminders] == [
        (1, "sms"),
        (3, "call"),
        (5, "sms"),
        (7, "call"),
        (10, "sms"),
    ]
    assert loaded["demo"].day_seconds == 60 and all(r.at is None for r in loaded["demo"].reminders)
    with pytest.raises(Exception):  # noqa: B017  # pydantic's frozen error type is internal
        default.version = 2  # type: ignore[misc]


def test_bad_field_is_refused_with_field_and_reason(tmp_path: Path) -> None:
    text = (
        (STRATEGIES / "default.toml")
        .read_text(encoding="utf-8")
        .replace("max_installments = 12", "max_installments = 1")
    )
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StrategyError) as err:
        load_strategy_file(path)
    assert "negotiation.max_installments" in str(err.value)
    assert "bad.toml" in str(err.value)


@pytest.mark.parametrize(
    ("locale", "text", "word"),
    [
        ("en", "{company}: pay now or we call the police. Reply STOP to opt out.", "police"),
        ("zh-CN", "【汇流金融】不还款就曝光你。回复TD退订", "曝光"),
    ],
)
def test_threatening_template_stops_loading_naming_template_and_word(
    locale: str, text: str, word: str
) -> None:
    data = _default_data()
    data["templates"]["friendly_notice"][locale] = text  # type: ignore[index]
    with pytest.raises(StrategyError) as err:
        parse_strategy(data)
    assert "friendly_notice" in str(err.value) and repr(word) in str(err.value)


def test_sms_template_without_opt_out_line_is_refused() -> None:
    data = _default_data()
    data["templates"]["second_notice"]["en"] = "{company}: please pay {amount}."  # type: ignore[index]
    with pytest.raises(StrategyError, match="opt-out line"):
        parse_strategy(data)


def test_template_without_company_is_refused() -> None:
    data = _default_data()
    data["templates"]["call_reminder"]["zh-CN"] = "您好，请还款。"  # type: ignore[index]
    with pytest.raises(StrategyError, match="must name the company"):
        parse_strategy(data)


def test_render_fills_fields_in_the_borrower_language() -> None:
    strategy = load_all_strategies(STRATEGIES)["default"]
    text = render(
        strategy.templates["friendly_notice"],
        "zh-CN",
        {"name": "王芳", "amount": "1530.50", "currency": "CNY", "due_date": "2026-11-20"},
    )
    assert (
        text.startswith("【汇流金融】王芳您好")
        and "1530.50CNY" in text
        and text.endswith("回复TD退订")
    )


def test_challenger_split_is_stable_and_near_the_share() -> None:
    ids = [f"L-{i}" for i in range(10_000)]
    first = [choose_strategy(i, "default", "challenger", 0.2) for i in ids]
    assert first == [choose_strategy(i, "default", "challenger", 0.2) for i in ids]
    share = first.count("challenger") / len(ids)
    assert abs(share - 0.2) <= 0.02
    assert 0 <= challenger_bucket("L-1") < 1
