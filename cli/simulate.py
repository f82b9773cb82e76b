"""``collectflow simulate``: a portfolio backtest.

The default engine is pure (``simulation.engine``: the case core in a discrete-event loop, no
server); ``--engine temporal`` runs the real workflow and activities on time-skipping servers,
``--shards N`` of them in N processes. Both give the same report shape."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from models.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from simulation.model import SimConfig, SimRun


TRAITS_MIX = "traits"


class Engine(StrEnum):
    PURE = "pure"
    TEMPORAL = "temporal"


def simulate(
    loans: Annotated[int, typer.Option(min=1, help="Number of loans.")] = 1000,
    days: Annotated[int, typer.Option(min=1, help="Simulated days from the due date.")] = 180,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 1,
    strategy: Annotated[str, typer.Option(help="Champion strategy.")] = "default",
    challenger: Annotated[str | None, typer.Option(help="Challenger strategy.")] = None,
    share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of loans the challenger takes.")
    ] = 0.2,
    mix: Annotated[
        str | None,
        typer.Option(
            help='Behaviour mix, e.g. "pays_on_reminder=0.3,unreachable=0.2"; "traits": '
            "borrowers with a hidden ability and willingness to pay, and their means."
        ),
    ] = None,
    strategy_dir: Annotated[
        Path, typer.Option(help="Folder of strategy TOML files.")
    ] = PROJECT_ROOT / "strategies",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    engine: Annotated[
        Engine, typer.Option(help="pure: the case core in-process; temporal: the real workflow.")
    ] = Engine.PURE,
    shards: Annotated[
        int, typer.Option(min=1, max=64, help="Temporal engine: processes, one server each.")
    ] = 1,
) -> None:
    """Run N loans through the case core (or the real workflow); report figures per strategy."""
    from rich.console import Console
    from rich.progress import Progress

    from models.strategy import StrategyError, load_strategy
    from simulation.behaviour import MixError, parse_mix
    from simulation.model import SimConfig
    from simulation.report import build_report, report_table, write_chart

    try:
        traits = mix == TRAITS_MIX
        parsed = parse_mix(None if traits else mix)
        for name in (strategy, challenger):
            if name:
                load_strategy(name, strategy_dir)
    except (MixError, StrategyError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if shards > 1 and engine is Engine.PURE:
        typer.echo("--shards applies to --engine temporal; the pure engine runs in one", err=True)
        raise typer.Exit(2)
    config = SimConfig(
        loans=loans,
        days=days,
        seed=seed,
        strategy=strategy,
        challenger=challenger,
        share=share,
        mix=parsed,
        strategy_dir=strategy_dir,
        traits=traits,
    )
    err = Console(stderr=True)
    started = time.monotonic()
    # The Temporal core and the test server write log lines to fd 1: point it at stderr while
    # running, so stdout carries only the report.
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        with Progress(console=err, transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("simulating", total=days)
            run = _run(config, engine, shards, lambda day: progress.update(task, completed=day))
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)
    report = build_report(run)
    if chart is not None:
        write_chart(report, chart)
    if json_out:
        typer.echo(report.to_json())
    else:
        Console().print(report_table(report))
    took = time.monotonic() - started
    err.print(f"simulated {loans} loans x {days} days in {took:.1f} s ({engine.value} engine)")


def _run(config: SimConfig, engine: Engine, shards: int, on_day: Callable[[int], None]) -> SimRun:
    if engine is Engine.PURE:
        from simulation.engine import run_pure

        return run_pure(config, on_day=on_day)
    from simulation.shards import run_sharded

    return run_sharded(config, shards, on_day=on_day)


def register(app: typer.Typer) -> None:
    app.command()(simulate)
