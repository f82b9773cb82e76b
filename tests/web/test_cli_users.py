"""``collectflow users``: add, list, disable, unlock, reset-password against a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from activities.db import Database
from cli.main import app
from web import accounts

runner = CliRunner()


def _users(url: str, *args: str, password: str | None = None) -> tuple[int, str]:
    env = {"COLLECTFLOW_NEW_PASSWORD": password} if password else {}
    result = runner.invoke(app, ["users", *args, "--database-url", url], env=env)
    return result.exit_code, result.output


async def _log_in(url: str, password: str) -> str | None:
    database = Database(url)
    try:
        # The real clock: `users list` judges a lock against it.
        now = datetime.now(UTC)
        result = await accounts.log_in(database, "wang.fang", password, now, 1)
        return result.refusal
    finally:
        await database.dispose()


def test_users_commands(tmp_path: Path) -> None:
    """Each command does what it says, refusals exit 1 with a sentence, list shows the state."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cf.db'}"
    pw = "first password"
    code, output = _users(url, "add", "wang.fang", "--role", "operator", password=pw)
    # The line, not the whole output: an earlier test may have left logging (alembic's) on.
    assert code == 0 and "wang.fang (operator) added\n" in output
    code, output = _users(url, "add", "li", "--role", "auditor", password="short")
    assert code == 1 and "at least 10 characters" in output
    code, output = _users(url, "add", "wang.fang", "--role", "auditor", password=pw)
    assert code == 1 and "is taken" in output
    code, output = _users(url, "add", "zhou", "--role", "operator", "--agent", "A-9", password=pw)
    assert code == 1 and "no field agent 'A-9'" in output

    for _ in range(5):
        asyncio.run(_log_in(url, "wrong password"))
    assert "locked" in _users(url, "list")[1]
    assert asyncio.run(_log_in(url, pw)) == "login.locked"
    assert _users(url, "unlock", "wang.fang")[0] == 0
    assert asyncio.run(_log_in(url, pw)) is None

    assert _users(url, "reset-password", "wang.fang", password="second password")[0] == 0
    assert asyncio.run(_log_in(url, pw)) == "login.wrong"
    assert _users(url, "disable", "wang.fang")[0] == 0
    assert "disabled" in _users(url, "list")[1]
    assert asyncio.run(_log_in(url, "second password")) == "login.disabled"
    code, output = _users(url, "unlock", "nobody")
    assert code == 1 and "there is no user 'nobody'" in output
