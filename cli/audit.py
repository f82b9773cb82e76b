"""``collectflow audit``: timelines, verifiable exports and replays for auditors.

Thin commands: each connects, calls one function of ``audit/`` and prints its result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client, WorkflowHistory

from audit import replay as rp
from audit.export import export_case, verify_export
from audit.timeline import TimelineEntry, build_timeline, fetch_case_histories
from models.common import case_id_for
from models.settings import get_settings
from workers.temporal import connect

app = typer.Typer(
    help="Audit cases: readable timelines, verifiable exports, replays against current code.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

LoanId = Annotated[str, typer.Argument(help="The loan id; the case is case-<LOAN_ID>.")]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _client() -> Client:
    settings = get_settings()
    return await connect(settings.temporal_address, settings.temporal_namespace)


async def _case(loan_id: str) -> tuple[list[WorkflowHistory], list[TimelineEntry]]:
    histories = await fetch_case_histories(await _client(), case_id_for(loan_id))
    return histories, build_timeline(histories)


def _table(loan_id: str, entries: list[TimelineEntry]) -> Table:
    table = Table(title=f"case-{loan_id}: {len(entries)} entries", show_lines=False)
    for column in ("at (UTC)", "run", "event", "stage", "source", "kind", "actor", "summary"):
        table.add_column(column, overflow="fold")
    for e in entries:
        actor = f"{e.actor_id} ({e.actor_role})" if e.actor_id else ""
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.run_id[:8],
            str(e.event_id),
            e.stage or "",
            e.source,
            e.kind,
            actor,
            e.summary,
        )
    return table


@app.command()
def timeline(
    loan_id: LoanId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The case's timeline across all its runs, from its Temporal history."""
    _, entries = _run(_case(loan_id))
    if as_json:
        print(
            json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2)
        )
    else:
        out.print(_table(loan_id, entries))


@app.command()
def export(
    loan_id: LoanId,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the export into.")],
) -> None:
    """Write the raw histories, the timeline and a sealed manifest into a directory."""
    histories, entries = _run(_case(loan_id))
    manifest = export_case(histories, entries, out_dir)
    out.print(
        f"exported {manifest.workflow_id}: {len(manifest.runs)} run(s), {len(entries)} timeline "
        f"entries, to {out_dir}\ntimeline head {manifest.timeline_head} (keep it elsewhere)"
    )


@app.command()
def verify(
    directory: Annotated[Path, typer.Argument(help="An export directory.")],
) -> None:
    """Check an export against its manifest; exits 1 naming the file and event on any change."""
    result = verify_export(directory)
    if result.ok:
        out.print(
            f"[green]OK[/green] {result.workflow_id}: {len(result.checked)} files verified; "
            f"timeline head {result.timeline_head}"
        )
        return
    for problem in result.problems:
        err.print(f"[red]FAILED[/red] {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


async def _replay(
    loan_id: str | None, directory: Path | None, query: str | None, progress: Progress
) -> rp.ReplaySummary:
    total: int | None = None
    source: list[WorkflowHistory] | AsyncIterator[WorkflowHistory]
    if directory is not None:
        source = rp.directory_histories(directory)
        total = len(source)
    elif loan_id is not None:
        source = await rp.case_histories(await _client(), loan_id)
        total = len(source)
    elif query is not None:
        client = await _client()
        total = (await client.count_workflows(query)).count
        source = rp.query_histories(client, query)
    else:
        raise ValueError("no source of histories given")
    task = progress.add_task("replaying", total=total)

    def advance(history: WorkflowHistory, failure: rp.ReplayFailure | None) -> None:
        progress.advance(task)
        if failure is not None:
            progress.console.print(
                f"[red]FAILED[/red] {failure.describe()}", highlight=False, soft_wrap=True
            )

    return await rp.replay_histories(source, on_progress=advance)


@app.command()
def replay(
    loan_id: Annotated[str | None, typer.Argument(help="Replay every run of this case.")] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Replay an export directory (or a folder of history JSON)."),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option("--query", help="Replay every run matching a visibility query."),
    ] = None,
) -> None:
    """Replay histories against the current workflow code; exits 1 if any run diverges."""
    if sum(x is not None for x in (loan_id, directory, query)) != 1:
        err.print("give exactly one of LOAN_ID, --dir or --query")
        raise typer.Exit(2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as progress:
        summary = _run(_replay(loan_id, directory, query, progress))
    colour = "green" if summary.ok else "red"
    out.print(
        f"[{colour}]replayed {summary.replayed}, passed {summary.passed}, "
        f"failed {len(summary.failed)}[/{colour}]"
    )
    for failure in summary.failed:
        out.print(f"  {failure.describe()}", highlight=False, soft_wrap=True)
    if not summary.ok:
        raise typer.Exit(1)
