"""The people service on SQLite and PostgreSQL: add, lock, unlock, reset, disable, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select

from activities.db import Database, upgrade_database
from models.common import Role
from models.tables import FieldAgent
from models.users import User, UserCreate
from tests.web.conftest import PASSWORD, utc
from web import accounts

NOW = utc(2026, 12, 1, 9)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade_database, db_url)
    database = Database(db_url)
    yield database
    await database.dispose()


def _create(username: str = "wang.fang", **changes: object) -> UserCreate:
    values: dict[str, object] = {
        "username": username,
        "display_name": "王芳",
        "role": Role.OPERATOR,
        "password": PASSWORD,
    }
    values.update(changes)
    return UserCreate.model_validate(values)


async def test_password_is_stored_as_argon2_and_checked(db: Database) -> None:
    """The row holds an argon2id hash, never the password; the right password opens a session."""
    await accounts.add_user(db, _create())
    async with db.session() as session:
        rows = await session.exec(select(User))
        user = rows.one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    result = await accounts.log_in(db, "wang.fang", PASSWORD, NOW, 12)
    assert result.user is not None and result.session_token and result.csrf_token
    found = await accounts.session_user(db, result.session_token, NOW + timedelta(hours=1))
    assert found is not None and found.user.username == "wang.fang"
    assert await accounts.session_user(db, result.session_token, NOW + timedelta(hours=13)) is None


async def test_five_failures_lock_until_the_backoff_or_an_unlock(db: Database) -> None:
    """Locked after five wrong passwords, even for the right one; open again after the minute,
    and at once after an administrator's unlock."""
    await accounts.add_user(db, _create())
    for _ in range(5):
        assert (await accounts.log_in(db, "wang.fang", "wrong password", NOW, 12)).user is None
    locked = await accounts.log_in(db, "wang.fang", PASSWORD, NOW + timedelta(seconds=30), 12)
    assert locked.refusal == "login.locked" and locked.locked_until == NOW + timedelta(minutes=1)
    later = await accounts.log_in(db, "wang.fang", PASSWORD, NOW + timedelta(minutes=1), 12)
    assert later.user is not None
    for _ in range(5):
        await accounts.log_in(db, "wang.fang", "wrong password", NOW, 12)
    await accounts.unlock(db, "wang.fang")
    assert (await accounts.log_in(db, "wang.fang", PASSWORD, NOW, 12)).user is not None


async def test_reset_and_disable_end_sessions(db: Database) -> None:
    """A reset password ends open sessions and lifts a lock; a disabled user cannot log in."""
    await accounts.add_user(db, _create())
    first = await accounts.log_in(db, "wang.fang", PASSWORD, NOW, 12)
    assert first.session_token is not None
    await accounts.reset_password(db, "wang.fang", "a brand new secret")
    assert await accounts.session_user(db, first.session_token, NOW) is None
    assert (await accounts.log_in(db, "wang.fang", PASSWORD, NOW, 12)).refusal == "login.wrong"
    await accounts.set_active(db, "wang.fang", False)
    refused = await accounts.log_in(db, "wang.fang", "a brand new secret", NOW, 12)
    assert refused.refusal == "login.disabled"


async def test_field_collector_takes_its_agents_region(db: Database) -> None:
    """An operator linked to an agent record gets the agent's region; other links are refused."""
    async with db.session() as session:
        session.add(FieldAgent(id="A-7", name="Li Lei", region="hz-west"))
        await session.commit()
    collector = await accounts.add_user(db, _create("li.lei", agent_id="A-7"))
    assert collector.region == "hz-west"
    with pytest.raises(accounts.AccountError, match="only an operator"):
        await accounts.add_user(db, _create("boss", role=Role.SUPERVISOR, agent_id="A-7"))
    with pytest.raises(accounts.AccountError, match="no field agent"):
        await accounts.add_user(db, _create("ghost", agent_id="A-404"))
    with pytest.raises(accounts.AccountError, match="is taken"):
        await accounts.add_user(db, _create("li.lei"))


def test_bad_input_is_refused_with_a_sentence() -> None:
    """Short passwords, odd usernames and unknown languages fail validation by field."""
    with pytest.raises(ValueError, match="at least 10 characters"):
        _create(password="short")
    with pytest.raises(ValueError, match="lower-case letters"):
        _create("Wang Fang")
    with pytest.raises(ValueError, match="unsupported language"):
        _create(locale="fr")
