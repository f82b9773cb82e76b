"""The segmented challenger's backtest (pure engine, a small sample of the 1,000 x 180 run):
figures per arm, hidden-trait borrowers with means, treatments on record in one arm only."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from cli.main import app
from simulation import portfolio
from simulation.engine import Engine
from simulation.model import SimConfig
from simulation.profiles import DEFAULT_MIX, draw_profile
from simulation.report import build_report
from simulation.traits import STANDARD_RULES, traits_profile
from workflows.core import affordability

CONFIG = SimConfig(loans=120, days=90, seed=5, challenger="segmented", share=0.5, traits=True)


def test_trait_borrowers_have_means_and_a_hardship_flag_the_bench_has_neither() -> None:
    """Means come from the hidden traits; 'in hardship' is illness or no affordable plan."""
    profiles = [traits_profile(3, i) for i in range(300)]
    assert profiles == [traits_profile(3, i) for i in range(300)]  # seeded, order-free
    for p in profiles:
        assert p.means is not None
        disposable = affordability.disposable_income(
            p.means.monthly_income, p.means.essential_expenses
        )
        offer = affordability.propose(p.amount, disposable, STANDARD_RULES, "CNY")
        unaffordable = offer.kind in ("hardship_grace", "none")
        assert p.means.hardship == (unaffordable or p.means.reason.value == "illness")
    assert 0 < sum(p.means.hardship for p in profiles if p.means) < len(profiles)
    assert len({p.behaviour for p in profiles}) >= 5  # the traits reach most behaviours
    assert draw_profile(3, 0, DEFAULT_MIX).means is None


def test_segmented_backtest_reports_per_arm_and_treats_only_its_own_arm() -> None:
    """Both arms report recovery, contacts per case and per 1,000 recovered, days to
    resolution and the hardship grace share; only segmented cases are scored and offered."""
    engine = Engine(CONFIG, portfolio.load_strategies(CONFIG))
    run = engine.run()
    report = build_report(run)
    arms = {s.strategy: s for s in report.strategies}
    assert set(arms) == {"default", "segmented"}
    for name, stats in arms.items():
        recs = [r for r in run.records if r.strategy.id == name]
        recovered = sum((r.recovered for r in recs), start=Decimal(0))
        sent = sum(sum(r.contacts.values()) for r in recs)
        assert stats.loans == len(recs) > 0 and 0 < stats.recovery_rate <= 1
        assert stats.contacts_per_1000_recovered == round(sent / float(recovered / 1000), 3)
        hardship = [r for r in recs if r.profile.means and r.profile.means.hardship]
        assert stats.hardship_loans == len(hardship) > 0
        share = sum(r.grace_offered for r in hardship) / len(hardship)
        assert stats.hardship_offered_grace_share == round(share, 4)
        assert stats.resolution_days_p50 is not None
    cases = {loan.rec.loan_id: loan.case.s for loan in engine.loans}
    for rec in run.records:
        s = cases[rec.loan_id]
        if rec.strategy.id == "default":
            assert s.segment is None and s.offers_made == 0  # runs as written
        else:
            assert s.segment is not None and s.treatment is not None
    treated = {cases[r.loan_id].treatment for r in run.records if r.strategy.id == "segmented"}
    assert len(treated) >= 2  # different segments, different paths, one strategy


def test_simulate_cli_challenger_segmented_on_the_traits_mix() -> None:
    """`collectflow simulate --challenger segmented --mix traits --json` prints both arms."""
    args = "simulate --loans 40 --days 40 --challenger segmented --share 0.5 --mix traits --json"
    result = CliRunner().invoke(app, args.split())
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [s["strategy"] for s in report["strategies"]] == ["default", "segmented"]
    for arm in report["strategies"]:
        assert {"contacts_per_1000_recovered", "hardship_offered_grace_share"} <= set(arm)
    assert set(report["mix"]) <= {
        "pays_on_reminder",
        "pays_after_visit",
        "keeps_plan",
        "breaks_plan",
        "disputes",
        "opts_out",
        "unreachable",
    }
