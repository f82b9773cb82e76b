"""The people service: add, list, disable, unlock and reset users; log in and out.

Used by the CLI (``collectflow users``) and the login screen alike. Lookups return ``X | None``
and refusals raise :class:`AccountError` with a sentence; callers turn those into answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from models.common import Role
from models.tables import FieldAgent
from models.users import User, UserCreate, UserPublic, UserSession, check_password
from web import lockout, security


class AccountError(ValueError):
    """A refusal with a sentence a person can act on."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    session_token: str | None = None
    csrf_token: str | None = None
    refusal: str | None = None  # a message key of the catalogue
    locked_until: datetime | None = None


def public(user: User) -> UserPublic:
    return UserPublic.model_validate(user.model_dump())


async def _agent_region(session: AsyncSession, create: UserCreate) -> str | None:
    if create.agent_id is None:
        return create.region
    if create.role is not Role.OPERATOR:
        raise AccountError("only an operator can be linked to a field agent record")
    agent = await session.get(FieldAgent, create.agent_id)
    if agent is None:
        raise AccountError(f"there is no field agent {create.agent_id!r}; add the agent first")
    if create.region is not None and create.region != agent.region:
        raise AccountError(
            f"agent {agent.id!r} works region {agent.region!r}, not {create.region!r}"
        )
    return agent.region


async def add_user(db: Database, create: UserCreate) -> UserPublic:
    async with db.session() as session:
        if await _by_username(session, create.username) is not None:
            raise AccountError(f"the username {create.username!r} is taken")
        region = await _agent_region(session, create)
        values = create.model_dump(exclude={"password", "region"})
        user = User(**values, region=region, password_hash=security.hash_password(create.password))
        session.add(user)
        await session.commit()
        return public(user)


async def list_users(db: Database) -> list[UserPublic]:
    async with db.session() as session:
        rows = await session.exec(select(User).order_by(col(User.username)))
        return [public(user) for user in rows]


async def get_user(db: Database, username: str) -> UserPublic | None:
    async with db.session() as session:
        user = await _by_username(session, username)
        return public(user) if user else None


async def _by_username(session: AsyncSession, username: str) -> User | None:
    rows = await session.exec(select(User).where(User.username == username))
    return rows.first()


async def _require(session: AsyncSession, username: str) -> User:
    user = await _by_username(session, username)
    if user is None:
        raise AccountError(f"there is no user {username!r}")
    return user


async def set_active(db: Database, username: str, active: bool) -> UserPublic:
    """Disable (or re-enable) a user; disabling also ends every session they have open."""
    async with db.session() as session:
        user = await _require(session, username)
        user.active = active
        if not active:
            await _end_sessions(session, user)
        session.add(user)
        await session.commit()
        return public(user)


async def reset_password(db: Database, username: str, password: str) -> UserPublic:
    """A new password; it also lifts a lockout and ends the user's open sessions."""
    check_password(password)
    async with db.session() as session:
        user = await _require(session, username)
        user.password_hash = security.hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        await _end_sessions(session, user)
        session.add(user)
        await session.commit()
        return public(user)


async def unlock(db: Database, username: str) -> UserPublic:
    async with db.session() as session:
        user = await _require(session, username)
        user.failed_logins, user.locked_until = 0, None
        session.add(user)
        await session.commit()
        return public(user)


async def _end_sessions(session: AsyncSession, user: User) -> None:
    rows = await session.exec(select(UserSession).where(UserSession.user_id == user.id))
    for row in rows:
        await session.delete(row)


async def log_in(
    db: Database, username: str, password: str, now: datetime, hours: int
) -> LoginResult:
    """Check the password against the lockout; on success open a session."""
    async with db.session() as session:
        user = await _by_username(session, username)
        if user is not None and user.locked_until is not None:
            counters = lockout.LoginCounters(user.failed_logins, user.locked_until)
            if lockout.is_locked(counters, now):
                return LoginResult(None, refusal="login.locked", locked_until=user.locked_until)
        if not security.verify_password(user.password_hash if user else None, password):
            if user is not None:
                counters = lockout.after_failure(
                    lockout.LoginCounters(user.failed_logins, user.locked_until), now
                )
                user.failed_logins, user.locked_until = (
                    counters.failed_logins,
                    counters.locked_until,
                )
                session.add(user)
                await session.commit()
                if lockout.is_locked(counters, now):
                    return LoginResult(None, refusal="login.locked", locked_until=user.locked_until)
            return LoginResult(None, refusal="login.wrong")
        if user is None:  # unreachable: verify_password is False without a hash
            return LoginResult(None, refusal="login.wrong")
        if not user.active:
            return LoginResult(None, refusal="login.disabled")
        if security.needs_rehash(user.password_hash):
            user.password_hash = security.hash_password(password)
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        token, csrf = security.new_token(), security.new_token()
        session.add(user)
        session.add(
            UserSession(
                token_hash=security.token_digest(token),
                user_id=user.id or 0,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
        await session.commit()
        return LoginResult(user, session_token=token, csrf_token=csrf)


@dataclass(frozen=True)
class SessionUser:
    user: User
    csrf_token: str


async def session_user(db: Database, token: str, now: datetime) -> SessionUser | None:
    """The active user behind a session token, or None (unknown, expired or disabled)."""
    async with db.session() as session:
        row = await session.get(UserSession, security.token_digest(token))
        if row is None:
            return None
        if row.expires_at <= now:
            await session.delete(row)
            await session.commit()
            return None
        user = await session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return SessionUser(user, row.csrf_token)


async def log_out(db: Database, token: str) -> None:
    async with db.session() as session:
        row = await session.get(UserSession, security.token_digest(token))
        if row is not None:
            await session.delete(row)
            await session.commit()


async def set_locale(db: Database, user_id: int, locale: str) -> None:
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is not None:
            user.locale = locale
            session.add(user)
            await session.commit()
