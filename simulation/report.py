"""Figures per strategy from a :class:`simulation.model.SimRun` (either engine): JSON, a rich
table, a chart."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field
from rich.table import Table

from models.common import Stage
from simulation.behaviour import explained
from simulation.model import CaseRecord, SimRun

ZERO = Decimal(0)


class LoanOutcome(BaseModel):
    loan_id: str
    behaviour: str
    strategy: str
    stage: Stage
    explained: bool


class StrategyStats(BaseModel):
    strategy: str
    loans: int
    amount_overdue: str
    amount_recovered: str
    recovery_rate: float
    resolution_days_p50: int | None
    resolution_days_p90: int | None
    contacts_per_case: dict[str, float]
    deferred_by_reason: dict[str, int]
    blocked_by_reason: dict[str, int]
    visits_per_case: float
    final_stage_share: dict[str, float]
    actions_refused: int
    recovered_share_by_day: list[float] = Field(description="cumulative, index = day")
    contacts_per_1000_recovered: float | None = Field(
        default=None, description="SMS and calls sent per 1,000 (currency) recovered"
    )
    hardship_loans: int = 0
    hardship_offered_grace_share: float | None = Field(
        default=None, description="of the loans in hardship, the share offered a grace"
    )


class SimReport(BaseModel):
    seed: int
    loans: int
    days: int
    champion: str
    challenger: str | None
    share: float
    mix: dict[str, float]
    strategies: list[StrategyStats]
    final_stage_by_behaviour: dict[str, dict[str, int]]
    unexplained: int
    outcomes: list[LoanOutcome] = Field(default_factory=list, exclude=True)

    def to_json(self) -> str:
        return self.model_dump_json()


def _percentile(values: list[int], q: float) -> int | None:
    """Nearest rank: an integer day that occurred, stable for a seed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _stage(rec: CaseRecord) -> Stage:
    return rec.stage


def _stats(name: str, recs: list[CaseRecord], run: SimRun) -> StrategyStats:
    n = len(recs) or 1
    overdue = sum((r.profile.amount for r in recs), start=ZERO)
    by_day = [ZERO] * (run.config.days + 1)
    for rec in recs:
        for day, amount in rec.paid:
            by_day[min(max(day, 0), run.config.days)] += amount
    recovered = sum(by_day, start=ZERO)
    cumulative, running = [], ZERO
    for amount in by_day:
        running += amount
        cumulative.append(round(float(running / overdue), 4) if overdue else 0.0)
    resolution = [
        r.terminal_day
        for r in recs
        if r.terminal_day is not None and _stage(r) in (Stage.RESOLVED, Stage.SETTLED)
    ]
    contacts: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    for rec in recs:
        contacts.update(rec.contacts)
        deferred.update(rec.deferred)
        blocked.update(rec.blocked)
    visits = sum(r.visits_recorded for r in recs)
    hardship = [r for r in recs if r.profile.means is not None and r.profile.means.hardship]
    stages = Counter(_stage(r).value for r in recs)
    return StrategyStats(
        strategy=name,
        loans=len(recs),
        amount_overdue=f"{overdue:.2f}",
        amount_recovered=f"{recovered:.2f}",
        recovery_rate=round(float(recovered / overdue), 4) if overdue else 0.0,
        resolution_days_p50=_percentile(resolution, 0.5),
        resolution_days_p90=_percentile(resolution, 0.9),
        contacts_per_case={ch: round(contacts[ch] / n, 3) for ch in ("sms", "call")},
        deferred_by_reason=dict(sorted(deferred.items())),
        blocked_by_reason=dict(sorted(blocked.items())),
        visits_per_case=round(visits / n, 3),
        final_stage_share={
            s.value: round(stages[s.value] / n, 4) for s in Stage if stages[s.value]
        },
        actions_refused=sum(r.refused for r in recs),
        recovered_share_by_day=cumulative,
        contacts_per_1000_recovered=(
            round(sum(contacts.values()) / float(recovered / 1000), 3) if recovered else None
        ),
        hardship_loans=len(hardship),
        hardship_offered_grace_share=(
            round(sum(1 for r in hardship if r.grace_offered) / len(hardship), 4)
            if hardship
            else None
        ),
    )


def _mix(run: SimRun) -> dict[str, float]:
    """The configured mix; for the hidden-traits portfolio, the behaviours its traits gave."""
    cfg = run.config
    if not cfg.traits:
        return {b.value: round(w, 4) for b, w in cfg.mix.items()}
    drawn = Counter(r.profile.behaviour.value for r in run.records)
    return {b: round(n / (len(run.records) or 1), 4) for b, n in sorted(drawn.items())}


def build_report(run: SimRun) -> SimReport:
    cfg = run.config
    names = [cfg.strategy] + ([cfg.challenger] if cfg.challenger else [])
    strategies = [
        _stats(name, [r for r in run.records if r.strategy.id == name], run) for name in names
    ]
    outcomes = [
        LoanOutcome(
            loan_id=r.loan_id,
            behaviour=r.profile.behaviour.value,
            strategy=r.strategy.id,
            stage=_stage(r),
            explained=explained(r.profile.behaviour, _stage(r)),
        )
        for r in run.records
    ]
    by_behaviour: dict[str, Counter[str]] = {}
    for o in outcomes:
        by_behaviour.setdefault(o.behaviour, Counter())[o.stage.value] += 1
    return SimReport(
        seed=cfg.seed,
        loans=cfg.loans,
        days=cfg.days,
        champion=cfg.strategy,
        challenger=cfg.challenger,
        share=cfg.share,
        mix=_mix(run),
        strategies=strategies,
        final_stage_by_behaviour={
            b: dict(sorted(counts.items())) for b, counts in sorted(by_behaviour.items())
        },
        unexplained=sum(1 for o in outcomes if not o.explained),
        outcomes=outcomes,
    )


def _reasons(counts: dict[str, int]) -> str:
    return "\n".join(f"{reason}: {n}" for reason, n in counts.items()) or "-"


def report_table(report: SimReport) -> Table:
    table = Table(title=f"{report.loans} loans, {report.days} days, seed {report.seed}")
    table.add_column("figure")
    for s in report.strategies:
        table.add_column(s.strategy, overflow="fold")
    rows: list[tuple[str, list[str]]] = [
        ("loans", [str(s.loans) for s in report.strategies]),
        ("recovery rate", [f"{s.recovery_rate:.1%}" for s in report.strategies]),
        (
            "amount recovered",
            [f"{s.amount_recovered} / {s.amount_overdue}" for s in report.strategies],
        ),
        (
            "days to resolution p50/p90",
            [f"{s.resolution_days_p50} / {s.resolution_days_p90}" for s in report.strategies],
        ),
        (
            "contacts per case",
            [
                ", ".join(f"{k} {v}" for k, v in s.contacts_per_case.items())
                for s in report.strategies
            ],
        ),
        ("deferred by reason", [_reasons(s.deferred_by_reason) for s in report.strategies]),
        ("blocked by reason", [_reasons(s.blocked_by_reason) for s in report.strategies]),
        ("visits per case", [str(s.visits_per_case) for s in report.strategies]),
        (
            "contacts per 1,000 recovered",
            [str(s.contacts_per_1000_recovered) for s in report.strategies],
        ),
        (
            "hardship loans offered a grace",
            [
                "-"
                if s.hardship_offered_grace_share is None
                else f"{s.hardship_offered_grace_share:.1%} of {s.hardship_loans}"
                for s in report.strategies
            ],
        ),
        (
            "final stage share",
            [
                "\n".join(f"{k}: {v:.1%}" for k, v in s.final_stage_share.items())
                for s in report.strategies
            ],
        ),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def write_chart(report: SimReport, path: Path) -> None:
    """Recovered share of the amount overdue by day, one line per strategy (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in report.strategies:
        ax.plot(range(len(s.recovered_share_by_day)), s.recovered_share_by_day, label=s.strategy)
    ax.set_xlabel("days past due")
    ax.set_ylabel("recovered share of amount overdue")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Recovery over {report.days} days ({report.loans} loans, seed {report.seed})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
