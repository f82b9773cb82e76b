"""``collectflow model train|evaluate|show``: fit a scorecard, measure it, read it (DESIGN §9).

Training uses a simulated portfolio (simulation/traits.py): borrowers whose hidden ability and
willingness show only through noisy behaviour. The label: paid in full or settled within 90 days
of the scoring point. Figures are on held-out cases, next to a days-past-due-only scorecard
fitted the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from models.settings import PROJECT_ROOT

app = typer.Typer(help="Scorecards: train, evaluate, show.", no_args_is_help=True)

DEFAULT_OUT = PROJECT_ROOT / "strategies" / "scorecards" / "propensity.json"
Cases = Annotated[int, typer.Option(min=100, help="Scored borrowers in the simulated portfolio.")]
Seed = Annotated[int, typer.Option(help="Seed of the portfolio and of the held-out split.")]
HeldOut = Annotated[
    float, typer.Option(min=0.1, max=0.9, help="Share of cases held out for the figures.")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _figures_text(figures: dict[str, float | int]) -> str:
    return (
        f"held-out cases: {figures['cases']} (paid within 90 days: {figures['paid_share']:.1%})\n"
        f"scorecard      AUC {figures['auc']:.3f}  KS {figures['ks']:.3f}\n"
        f"DPD only       AUC {figures['baseline_auc']:.3f}  KS {figures['baseline_ks']:.3f}"
    )


MIN_DB_CASES = 50


def _labelled(
    db: str | None, cases: int, seed: int, scoring_dpd: int
) -> tuple[list[Any], dict[str, str]]:
    if db is None:
        from simulation.traits import portfolio

        source = {"source": "simulated portfolio (simulation/traits.py)", "seed": str(seed)}
        return list(portfolio(cases, seed)), source
    import asyncio

    from activities.training_data import closed_cases

    rows = asyncio.run(closed_cases(db, scoring_dpd))
    labels = {r.paid for r in rows}
    if len(rows) < MIN_DB_CASES or len(labels) < 2:
        typer.echo(
            f"the database has {len(rows)} closed cases open at D+{scoring_dpd} "
            f"({'both outcomes' if len(labels) == 2 else 'one outcome only'}); training needs at "
            f"least {MIN_DB_CASES} with both outcomes",
            err=True,
        )
        raise typer.Exit(2)
    return rows, {"source": "closed cases of the database", "scoring_dpd": str(scoring_dpd)}


def train(
    cases: Cases = 5_000,
    seed: Seed = 1,
    held_out: HeldOut = 0.3,
    db: Annotated[
        str | None,
        typer.Option(help="Train on this database's closed cases instead of a simulation."),
    ] = None,
    scoring_dpd: Annotated[
        int, typer.Option(min=0, help="With --db: the scoring point, days past due.")
    ] = 14,
    card_id: Annotated[str, typer.Option("--id", help="The scorecard's id.")] = "propensity",
    version: Annotated[int, typer.Option(min=1, help="The scorecard's version.")] = 1,
    out: Annotated[Path, typer.Option(help="Where to write the JSON.")] = DEFAULT_OUT,
    json_out: Json = False,
) -> None:
    """Fit a scorecard (simulated portfolio or closed cases); print held-out KS/AUC; write it."""
    from models.scorecard import dump_scorecard
    from simulation.fit_scorecard import baseline, evaluate, fit, split

    rows, source = _labelled(db, cases, seed, scoring_dpd)
    train_set, test_set = split(rows, held_out, seed)
    trained = {
        **source,
        "cases": str(len(rows)),
        "held_out": str(held_out),
        "label": "paid in full or settled within 90 days of the scoring point",
    }
    card = fit(train_set, card_id, version, trained)
    figures = asdict(evaluate(card, baseline(train_set), test_set))
    card = card.model_copy(
        update={"trained": {**trained, **{f"held_out_{k}": f"{v:.4f}" for k, v in figures.items()}}}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_scorecard(card), encoding="utf-8")
    if json_out:
        typer.echo(json.dumps({"scorecard": card.ref, "out": str(out), **figures}))
    else:
        typer.echo(f"{card.ref} written to {out}\n{_figures_text(figures)}")


def evaluate_cmd(
    scorecard: Annotated[Path, typer.Option(help="The scorecard JSON.")] = DEFAULT_OUT,
    cases: Cases = 5_000,
    seed: Seed = 2,
    held_out: HeldOut = 0.3,
    json_out: Json = False,
) -> None:
    """Measure a scorecard on a fresh simulated portfolio (another seed than its training)."""
    from models.scorecard import ScorecardError, load_scorecard_file
    from simulation.fit_scorecard import baseline, evaluate, split
    from simulation.traits import portfolio

    try:
        card = load_scorecard_file(scorecard)
    except ScorecardError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    train_set, test_set = split(portfolio(cases, seed), held_out, seed)
    figures = asdict(evaluate(card, baseline(train_set), test_set))
    if json_out:
        typer.echo(json.dumps({"scorecard": card.ref, **figures}))
    else:
        typer.echo(f"{card.ref} on portfolio seed {seed}\n{_figures_text(figures)}")


def show(
    scorecard: Annotated[Path, typer.Argument(help="The scorecard JSON.")] = DEFAULT_OUT,
) -> None:
    """Print a scorecard's bins, points and segments in plain words."""
    from rich.console import Console
    from rich.table import Table

    from models.scorecard import FEATURES, ScorecardError, load_scorecard_file
    from workflows.core.scoring import bin_words

    try:
        card = load_scorecard_file(scorecard)
    except ScorecardError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    table = Table(title=f"{card.ref}: base {card.base_points} points")
    for column in ("feature", "bin", "points"):
        table.add_column(column)
    for feature in card.features:
        label = FEATURES[feature.name].label_en
        count = len(feature.bins) or len(feature.categories)
        for i in range(count):
            points = (feature.bins or feature.categories)[i].points
            table.add_row(label, bin_words(feature, i)[0], str(points))
        table.add_row(label, bin_words(feature, -1)[0], str(feature.missing_points))
    console = Console()
    console.print(table)
    for s in card.segments:
        floor = f"score {s.min_score} or more" if s is not card.segments[-1] else "any lower score"
        console.print(f"segment {s.name} ({s.label_en}): {floor}")
    for key, value in card.trained.items():
        console.print(f"trained {key}: {value}")


app.command()(train)
app.command("evaluate")(evaluate_cmd)
app.command()(show)
