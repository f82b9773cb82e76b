"""``collectflow loans``: bulk onboarding of overdue loans.

Thin: ``import`` reads the file, shows progress and prints the report; the checking and writing
are ``activities.loan_import``'s, the scan after it ``workers.schedules.run_overdue_scan``.

Exit status: 0 every row imported; 1 some rows were bad (the good ones are imported all the
same); 2 nothing could be done or finished (unreadable file, missing column, database down,
Temporal unreachable, or the scan did not finish in time).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from activities import loan_import as li
from models.observability import configure_logging
from models.settings import Settings, get_settings

app = typer.Typer(help="Loans: bulk onboarding from the loan system.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

EXIT_BAD_ROWS = 1
EXIT_FAILED = 2


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV (UTF-8) with a header row: " + ",".join(li.COLUMNS),
        ),
    ],
    start_cases: Annotated[
        bool,
        typer.Option(
            "--start-cases",
            help="Then run the overdue scan once now and wait for it (needs a worker running).",
        ),
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (default: COLLECTFLOW_DATABASE_URL).")
    ] = None,
    wait_seconds: Annotated[
        float, typer.Option(min=1, help="How long --start-cases waits for the scan.")
    ] = 600.0,
) -> None:
    """Import overdue loans and their borrowers from FILE; bad rows are reported, not fatal.

    Idempotent: rows that match the database are left as they are. Locale, address and the
    consent columns may be empty (zh-CN, none, no consent); consent takes yes/no, true/false
    or 1/0. Exit status: 0 all rows good, 1 some rows bad, 2 the import or scan failed.
    """
    settings = get_settings()
    configure_logging(settings)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    try:
        total = li.count_rows(file)
        report = _import(file, total, settings)
    except li.ImportFileError as exc:
        err.print(f"[red]cannot import:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from exc
    except li.ImportAborted as exc:
        _print_report(exc.report)
        err.print(f"[red]import stopped:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from exc
    _print_report(report)
    status = 0 if report.ok else EXIT_BAD_ROWS
    if start_cases:
        status = max(status, _scan(settings, wait_seconds))
    raise typer.Exit(status)


def _import(file: Path, total: int, settings: Settings) -> li.ImportReport:
    from activities.db import Database

    async def run(progress: Progress) -> li.ImportReport:
        task = progress.add_task("importing", total=total)
        db = Database(settings.database_url)
        try:
            return await li.import_loans(
                db, li.read_rows(file), settings, on_row=lambda: progress.advance(task)
            )
        finally:
            await db.dispose()

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        return asyncio.run(run(progress))


def _print_report(report: li.ImportReport) -> None:
    out.print(
        f"{report.rows} rows: {report.imported} imported "
        f"({report.inserted} new, {report.updated} updated, {report.unchanged} unchanged), "
        f"{len(report.problems)} bad"
    )
    if not report.problems:
        return
    table = Table(title="Bad rows (not imported)", show_lines=False)
    table.add_column("row", justify="right")
    table.add_column("loan_id")
    table.add_column("reason", overflow="fold")
    for problem in report.problems:
        table.add_row(str(problem.row), escape(problem.loan_id), escape(problem.reason))
    out.print(table)


def _scan(settings: Settings, wait_seconds: float) -> int:
    from workers.codec import keyring_for
    from workers.schedules import ScanStillRunning, run_overdue_scan
    from workers.temporal import connect

    async def run() -> int:
        client = await connect(
            settings.temporal_address, settings.temporal_namespace, keyring=keyring_for(settings)
        )
        result = await run_overdue_scan(client, settings, wait_seconds=wait_seconds)
        out.print(
            f"overdue scan: {result.examined} overdue loans, {result.started} cases started, "
            f"{result.already_open} already open"
        )
        return 0

    try:
        return asyncio.run(run())
    except ScanStillRunning as exc:
        err.print(f"[yellow]{escape(str(exc))}[/yellow]")
    except Exception as exc:  # connection refused, scan failed: one line, not a traceback
        err.print(f"[red]overdue scan failed:[/red] {escape(str(exc))}")
    return EXIT_FAILED
