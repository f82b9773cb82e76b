"""``collectflow model``: a scorecard fitted on a small simulated portfolio beats days past due
on held-out cases; the simulator's hidden traits are fixed before any scorecard exists."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from models.scorecard import load_scorecard_file
from simulation.traits import Traits, behaviour_of, portfolio, simulate_borrower

SMALL = ["--cases", "500", "--seed", "2"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return result.exit_code, f"{result.output}\n{result.exception!r}"
    return result.exit_code, result.output


def test_train_writes_a_scorecard_that_beats_days_past_due_on_held_out_cases(
    tmp_path: Path,
) -> None:
    out = tmp_path / "card.json"
    code, text = run("model", "train", *SMALL, "--version", "3", "--out", str(out), "--json")
    assert code == 0, text
    figures = json.loads(text)
    assert figures["scorecard"] == "propensity@v3" and figures["cases"] == 150  # 30% of 500
    assert figures["auc"] > figures["baseline_auc"] and figures["ks"] > figures["baseline_ks"]
    card = load_scorecard_file(out)
    assert card.trained["held_out_auc"] == f"{figures['auc']:.4f}"
    # evaluate on another portfolio reads the same file and reports the same kind of figures
    code, text = run(
        "model", "evaluate", "--scorecard", str(out), "--cases", "500", "--seed", "5", "--json"
    )
    assert code == 0, text
    assert json.loads(text)["scorecard"] == "propensity@v3"
    code, text = run("model", "show", str(out))
    assert code == 0 and "days past due" in text and "likely_to_pay" in text


def test_show_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x"}', encoding="utf-8")
    code, text = run("model", "show", str(bad))
    assert code == 2 and "is invalid" in text


def test_hidden_traits_are_drawn_first_and_never_observed() -> None:
    one = simulate_borrower(7, 12)
    again = simulate_borrower(7, 12)
    assert one is not None and one == again  # the seed and the index alone decide
    observable = {f.name for f in dataclasses.fields(type(one.features))}
    hidden = {f.name for f in dataclasses.fields(Traits)}
    assert not observable & hidden
    # a borrower is the same whatever the size of the portfolio being drawn
    small = {b.index: b for b in portfolio(50, 7)}
    large = {b.index: b for b in portfolio(200, 7)}
    assert all(large[i] == b for i, b in small.items())


def test_traits_map_onto_the_seven_bench_behaviours() -> None:
    kinds = {behaviour_of(b.traits) for b in portfolio(400, 3)}
    assert len(kinds) == 7
