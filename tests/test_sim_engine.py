"""The pure simulation engine: deterministic for a seed, per-loan streams, plausible ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace

from typer.testing import CliRunner

from cli.main import app
from models.common import Stage
from simulation.behaviour import Behaviour, draw_profile, explained
from simulation.engine import run_pure
from simulation.fidelity import loan_end
from simulation.model import SimConfig, SimRun
from simulation.report import build_report
from simulation.streams import stream_seed

EVEN = {b: 1 / len(Behaviour) for b in Behaviour}


def _by(run: SimRun, behaviour: Behaviour) -> list[object]:
    return [r for r in run.records if r.profile.behaviour is behaviour]


def test_same_seed_twice_gives_identical_json_and_another_seed_differs() -> None:
    """Two pure runs of one seed print the same JSON; a second seed gives other figures."""
    config = SimConfig(loans=150, days=120, seed=7, challenger="gentle", share=0.3)
    first = build_report(run_pure(config)).to_json()
    assert first == build_report(run_pure(config)).to_json()
    other = build_report(run_pure(replace(config, seed=8))).to_json()
    assert json.loads(other)["strategies"] != json.loads(first)["strategies"]
    assert [s["strategy"] for s in json.loads(first)["strategies"]] == ["default", "gentle"]


def test_every_loan_ends_where_its_behaviour_allows_and_outcomes_are_plausible() -> None:
    """Over 180 days each loan's stage fits its behaviour; payers pay, the unreachable do not."""
    run = run_pure(SimConfig(loans=140, days=180, seed=2, mix=EVEN))
    report = build_report(run)
    assert report.unexplained == 0, [o for o in report.outcomes if not o.explained]
    assert all(explained(r.profile.behaviour, r.stage) for r in run.records)
    counts = Counter(r.profile.behaviour for r in run.records)
    assert min(counts.values()) >= 10, counts
    for rec in run.records:
        b, amount = rec.profile.behaviour, rec.profile.amount
        assert sum(rec.contacts.values()) >= 1, rec.loan_id  # every case reminds first
        if b is Behaviour.PAYS_ON_REMINDER:
            assert rec.stage is Stage.RESOLVED and rec.recovered == amount, rec.loan_id
            assert rec.visits_recorded == 0
        elif b is Behaviour.UNREACHABLE:
            assert rec.recovered == 0 and rec.stage is Stage.WRITTEN_OFF, rec.loan_id
            assert rec.visits_recorded >= 1  # written off only after visits found nobody
        elif b is Behaviour.KEEPS_PLAN:
            assert rec.recovered > 0 and rec.broken == 0, rec.loan_id
        elif b is Behaviour.OPTS_OUT:
            assert rec.contacts["sms"] >= 1 and rec.stage is Stage.LEGAL, rec.loan_id
            assert rec.blocked, rec.loan_id  # later SMS steps were blocked, not sent
        elif b is Behaviour.PAYS_AFTER_VISIT:
            assert rec.stage is Stage.RESOLVED and rec.visits_recorded >= 1, rec.loan_id
    stats = report.strategies[0]
    assert stats.recovered_share_by_day == sorted(stats.recovered_share_by_day)
    assert len(stats.recovered_share_by_day) == 181


def test_a_loan_ends_alike_whatever_else_is_in_the_run() -> None:
    """Per-loan streams: the loans of a two-shard split end exactly as in the whole run."""
    config = SimConfig(loans=60, days=100, seed=5)
    whole = {r.loan_id: loan_end(r, run) for run in [run_pure(config)] for r in run.records}
    for shard in (0, 1):
        part = run_pure(replace(config, shard=shard, shards=2))
        assert [r.profile.index for r in part.records] == list(range(shard, 60, 2))
        for rec in part.records:
            assert loan_end(rec, part) == whole[rec.loan_id]


def test_streams_do_not_depend_on_the_process_hash_seed() -> None:
    """A stream's seed is the same in a process with another PYTHONHASHSEED (a shard's)."""
    code = (
        "from simulation.streams import stream_seed;"
        "from simulation.behaviour import draw_profile, DEFAULT_MIX;"
        "print(stream_seed(3, 'SIM-3-00007', 'amount'), draw_profile(3, 7, DEFAULT_MIX).amount)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [
        str(stream_seed(3, "SIM-3-00007", "amount")),
        str(draw_profile(3, 7, EVEN).amount),
    ]
    assert stream_seed(3, "SIM-3-00007", "amount") != stream_seed(3, "SIM-3-00007", "delay_days")
    assert stream_seed(3, "SIM-3-00007", "amount") != stream_seed(4, "SIM-3-00007", "amount")


def test_progress_reports_every_day_once_in_order() -> None:
    """The progress bar's callback sees days 1..N once each, in order."""
    seen: list[int] = []
    run_pure(SimConfig(loans=20, days=45, seed=1), on_day=seen.append)
    assert seen == list(range(1, 46))


def test_cli_defaults_to_the_pure_engine_and_refuses_pure_shards() -> None:
    """`collectflow simulate --json` prints the report; --shards needs the Temporal engine."""
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--loans", "30", "--days", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loans"] == 30 and report["strategies"][0]["loans"] == 30
    refused = runner.invoke(app, ["simulate", "--loans", "3", "--shards", "2"])
    assert refused.exit_code == 2
    assert "--engine temporal" in refused.output
