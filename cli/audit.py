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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client, WorkflowHistory

from activities.db import Database
from api.vaulting import opened_entries, vault_for
from audit import replay as rp
from audit.export import MANIFEST, Manifest, export_case
from audit.heads import ExportRefused, export_key, record_head, recorded_heads
from audit.signing import (
    SigningKeyError,
    generate_key,
    key_id,
    load_public_key,
    public_key_path,
)
from audit.timeline import TimelineEntry, build_timeline, fetch_case_histories
from audit.verify import verify_export
from models.common import case_id_for
from models.settings import get_settings
from workers.codec import converter_for, keyring_for
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
    return await connect(
        settings.temporal_address, settings.temporal_namespace, keyring=keyring_for(settings)
    )


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


async def _opened(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Sealed texts (``text:<id>``) opened from the app database while the borrower's key
    exists; ``[erased]`` after erasure."""
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        return await opened_entries(vault_for(database, settings), entries)
    finally:
        await database.dispose()


async def _readable_case(loan_id: str, refs: bool) -> list[TimelineEntry]:
    _, entries = await _case(loan_id)
    return entries if refs else await _opened(entries)


@app.command()
def timeline(
    loan_id: LoanId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    refs: Annotated[
        bool,
        typer.Option(
            "--refs",
            help="Show sealed texts as the references Temporal holds (text:<id>) instead of "
            "opening them from the app database.",
        ),
    ] = False,
) -> None:
    """The case's timeline across all its runs, from its Temporal history; notes and other
    sealed texts opened from the app database (COLLECTFLOW_DATABASE_URL)."""
    entries = _run(_readable_case(loan_id, refs))
    if as_json:
        print(
            json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2)
        )
    else:
        out.print(_table(loan_id, entries))


DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="The app database (default: COLLECTFLOW_DATABASE_URL)."),
]


@app.command()
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (PEM, 0600).")],
) -> None:
    """Make an Ed25519 key pair for signing exports: PATH and PATH.pub (give auditors .pub)."""
    if path.exists():
        err.print(f"{path} exists; refusing to overwrite a signing key")
        raise typer.Exit(2)
    key = generate_key(path)
    out.print(f"key {key_id(key.public_key())}: private {path}, public {public_key_path(path)}")


@app.command()
def export(
    loan_id: LoanId,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the export into.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write the raw histories, the timeline and a signed, sealed manifest into a directory;
    record the timeline head in the app database."""
    settings = get_settings()
    try:
        key = export_key(settings)
    except ExportRefused as exc:
        err.print(f"cannot export: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    histories, entries = _run(_case(loan_id))
    manifest = export_case(histories, entries, out_dir, key=key)
    try:
        _run(_record(database_url or settings.database_url, manifest, key))
    except ExportRefused as exc:
        err.print(f"exported to {out_dir}, but {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    out.print(
        f"exported {manifest.workflow_id}: {len(manifest.runs)} run(s), {len(entries)} timeline "
        f"entries, to {out_dir}, signed by key {key_id(key.public_key())}\n"
        f"timeline head {manifest.timeline_head} (recorded in the app database)"
    )


async def _record(url: str, manifest: Manifest, key: Ed25519PrivateKey) -> None:
    db = Database(url)
    try:
        await record_head(db, manifest, key)
    finally:
        await db.dispose()


async def _heads(url: str, directory: Path) -> set[str] | None:
    try:
        workflow_id = Manifest.model_validate_json((directory / MANIFEST).read_bytes()).workflow_id
    except (OSError, ValueError):
        return None  # verify itself names the unreadable manifest
    db = Database(url)
    try:
        return await recorded_heads(db, workflow_id)
    finally:
        await db.dispose()


@app.command()
def verify(
    directory: Annotated[Path, typer.Argument(help="An export directory.")],
    public_key: Annotated[
        Path | None,
        typer.Option(help="The signer's public key (PEM): the signature must be valid."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Also check the timeline head against this app database's record."),
    ] = None,
) -> None:
    """Check an export against its manifest (and its signature, and the recorded head);
    exits 1 naming the file and event on any change."""
    try:
        key = load_public_key(public_key) if public_key is not None else None
    except SigningKeyError as exc:
        err.print(f"cannot verify: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    heads = _run(_heads(database_url, directory)) if database_url else None
    result = verify_export(directory, public_key=key, recorded_heads=heads)
    if result.ok:
        checks = ["signature valid" if key else "signature NOT checked (no --public-key)"]
        checks.append("head recorded" if heads is not None else "head not checked")
        out.print(
            f"[green]OK[/green] {result.workflow_id}: {len(result.checked)} files verified, "
            f"{', '.join(checks)}; timeline head {result.timeline_head}"
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

    converter = converter_for(get_settings())
    return await rp.replay_histories(source, on_progress=advance, converter=converter)


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
