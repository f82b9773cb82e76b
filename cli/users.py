"""``collectflow users``: the people who log in to the screens.

Thin: each command validates its options into the models and calls ``web.accounts``. Passwords
are prompted for (hidden, twice) unless ``COLLECTFLOW_NEW_PASSWORD`` is set, so they never
appear in the shell history or the process list. Exit status 1 with a sentence when refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from activities.db import Database, upgrade_database
from models.common import Role
from models.settings import get_settings
from models.users import UserCreate, UserPublic
from web import accounts

app = typer.Typer(
    help="People: who may log in to the screens, with which role.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None, typer.Option(help="Database URL (default: COLLECTFLOW_DATABASE_URL).")
]
Username = Annotated[str, typer.Argument(help="The login name, e.g. wang.fang")]
Password = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="COLLECTFLOW_NEW_PASSWORD",
        help="Prompted for when not given (or set COLLECTFLOW_NEW_PASSWORD).",
    ),
]


def _run(database_url: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    url = database_url or get_settings().database_url
    upgrade_database(url)  # idempotent: a fresh database gets its tables first

    async def go() -> T:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(go())
    except (accounts.AccountError, ValueError) as exc:
        err.print(f"[red]{_sentence(exc)}[/red]")
        raise typer.Exit(1) from exc


def _sentence(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
    return str(exc)


def _say(user: UserPublic, what: str) -> None:
    out.print(f"{user.username} ({user.role.value}) {what}")


@app.command("add")
def add(
    username: Username,
    role: Annotated[Role, typer.Option(help="One of the API's roles.")],
    password: Password,
    name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
    agent: Annotated[
        str | None, typer.Option(help="Field collectors: their agent record (an operator).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region (a collector: the agent's).")] = None,
    locale: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    timezone: Annotated[
        str, typer.Option(help="IANA zone the screens show times in.")
    ] = "Asia/Shanghai",
    database_url: DatabaseUrl = None,
) -> None:
    """Add a person who can log in."""
    try:
        create = UserCreate(
            username=username,
            display_name=name or username,
            role=role,
            agent_id=agent,
            region=region,
            locale=locale,
            timezone=timezone,
            password=password,
        )
    except ValidationError as exc:
        err.print(f"[red]{_sentence(exc)}[/red]")
        raise typer.Exit(1) from exc
    _say(_run(database_url, lambda db: accounts.add_user(db, create)), "added")


@app.command("list")
def list_users(database_url: DatabaseUrl = None) -> None:
    """Everyone, with role, agent, region and whether they may log in now."""
    users = _run(database_url, accounts.list_users)
    now = datetime.now(UTC)
    table = Table("username", "name", "role", "agent", "region", "state", "last login")
    for user in users:
        locked = user.locked_until is not None and user.locked_until > now
        state = "disabled" if not user.active else ("locked" if locked else "active")
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "-"
        table.add_row(
            user.username,
            user.display_name,
            user.role.value,
            user.agent_id or "-",
            user.region or "-",
            state,
            last,
        )
    out.print(table)


@app.command("disable")
def disable(username: Username, database_url: DatabaseUrl = None) -> None:
    """Refuse further logins and end the person's open sessions."""
    _say(_run(database_url, lambda db: accounts.set_active(db, username, False)), "disabled")


@app.command("enable")
def enable(username: Username, database_url: DatabaseUrl = None) -> None:
    """Let a disabled person log in again."""
    _say(_run(database_url, lambda db: accounts.set_active(db, username, True)), "enabled")


@app.command("unlock")
def unlock(username: Username, database_url: DatabaseUrl = None) -> None:
    """Lift a lockout after repeated failed logins."""
    _say(_run(database_url, lambda db: accounts.unlock(db, username)), "unlocked")


@app.command("reset-password")
def reset_password(
    username: Username, password: Password, database_url: DatabaseUrl = None
) -> None:
    """Set a new password; lifts a lockout and ends the person's open sessions."""
    _say(_run(database_url, lambda db: accounts.reset_password(db, username, password)), "reset")
