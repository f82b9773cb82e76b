"""``collectflow borrowers``: the borrower vault (DESIGN §10) — erase a borrower, rewrap the
data keys under a new key-encryption key.

Thin: each command calls ``activities.vault``. Output names ids and counts, never a person's
details. Exit status 1 with a sentence when refused.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from activities.db import Database, upgrade_database
from activities.vault.crypto import VaultError
from activities.vault.erase import ErasureResult, erase_borrower
from activities.vault.files import erase_files
from activities.vault.store import Vault
from models.settings import get_settings

app = typer.Typer(help="Borrowers' personal data: erasure and key rotation.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None, typer.Option(help="Database URL (default: COLLECTFLOW_DATABASE_URL).")
]


def _run(database_url: str | None, work: Callable[[Vault], Awaitable[T]]) -> T:
    settings = get_settings()
    url = database_url or settings.database_url
    upgrade_database(url)

    async def go() -> T:
        database = Database(url)
        try:
            return await work(Vault.from_settings(database, settings))
        finally:
            await database.dispose()

    try:
        return asyncio.run(go())
    except (VaultError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@app.command("erase")
def erase(
    borrower_id: Annotated[str, typer.Argument(help="The borrower's id, e.g. B-77")],
    actor: Annotated[
        str | None, typer.Option(help="Who erases (recorded); default: the login name.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete the borrower's data key: their name, phone, address, notes, message texts and
    visit evidence become unreadable everywhere (the evidence files are deleted too); cases,
    amounts, stages and actors stay on record."""
    who = actor or getpass.getuser()
    result: ErasureResult = _run(
        database_url, lambda vault: erase_borrower(vault, borrower_id, who)
    )
    if not result.found:
        err.print(f"[red]no borrower {borrower_id}[/red]")
        raise typer.Exit(1)
    evidence = erase_files(get_settings().data_dir, borrower_id)
    out.print(
        f"borrower {borrower_id} erased by {who}: {result.cases} case(s), "
        f"{result.texts} sealed text(s), {result.contacts} ledger row(s) scrubbed, "
        f"{evidence} evidence file(s) deleted"
    )


@app.command("rotate-keys")
def rotate_keys(database_url: DatabaseUrl = None) -> None:
    """Rewrap every data key under the current key-encryption key (COLLECTFLOW_VAULT_KEY_CURRENT);
    remove the old key from COLLECTFLOW_VAULT_KEYS only after this has run."""
    count = _run(database_url, lambda vault: vault.rotate())
    out.print(f"{count} data key(s) rewrapped")
