"""``collectflow simulate``: a portfolio backtest on the time-skipping server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from models.settings import PROJECT_ROOT


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
        typer.Option(help='Behaviour mix, e.g. "pays_on_reminder=0.3,unreachable=0.2".'),
    ] = None,
    strategy_dir: Annotated[
        Path, typer.Option(help="Folder of strategy TOML files.")
    ] = PROJECT_ROOT / "strategies",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
) -> None:
    """Run N loans through the real workflow and activities; report figures per strategy."""
    from rich.console import Console
    from rich.progress import Progress

    from models.strategy import StrategyError, load_strategy
    from simulation.behaviour import MixError, parse_mix
    from simulation.driver import SimConfig, run_simulation
    from simulation.report import build_report, report_table, write_chart

    try:
        parsed = parse_mix(mix)
        for name in (strategy, challenger):
            if name:
                load_strategy(name, strategy_dir)
    except (MixError, StrategyError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    config = SimConfig(
        loans=loans,
        days=days,
        seed=seed,
        strategy=strategy,
        challenger=challenger,
        share=share,
        mix=parsed,
        strategy_dir=strategy_dir,
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
            run = asyncio.run(
                run_simulation(config, on_day=lambda day: progress.update(task, completed=day))
            )
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
    err.print(f"simulated {loans} loans x {days} days in {time.monotonic() - started:.1f} s")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
