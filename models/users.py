"""People who log in to the screens: users and their browser sessions.

A user has one of the API's five roles. A field collector is an ``operator`` linked to the
agent record (``field_agents``) that visits are assigned to, and to that agent's region.
Passwords are stored only as argon2 hashes; a session cookie carries a random token whose
SHA-256 is the session row's key, so a stolen database holds no usable cookie.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import AwareDatetime, field_validator
from sqlmodel import Field, SQLModel

from models.common import SUPPORTED_LOCALES, Role, validate_timezone
from models.tables import created_field, enum_type, updated_field

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a bound keeps hashing cheap to refuse


def normalise_locale(value: str) -> str:
    if value.lower().startswith("zh"):
        return "zh-CN"
    if value.lower().startswith("en"):
        return "en"
    raise ValueError(f"unsupported language {value!r}; use one of {', '.join(SUPPORTED_LOCALES)}")


def check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in value:
        raise ValueError("a password may not contain NUL characters")
    return value


class UserBase(SQLModel):
    username: str = Field(unique=True, max_length=64)
    display_name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_type(Role))
    # Field collectors only: their agent record and its region.
    agent_id: str | None = Field(default=None, foreign_key="field_agents.id", max_length=64)
    region: str | None = Field(default=None, max_length=64)
    locale: str = Field(default="zh-CN", max_length=16)
    # The zone the screens show this person's times in (IANA name).
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    active: bool = True

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not re.fullmatch(USERNAME_PATTERN, value):
            raise ValueError(
                "a username is 2-64 lower-case letters, digits, dots, dashes or underscores"
            )
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalise_locale(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return validate_timezone(value)


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=256)
    # Lockout: consecutive failures since the last success, and until when logins are refused.
    failed_logins: int = 0
    locked_until: AwareDatetime | None = None
    last_login_at: AwareDatetime | None = None
    created_at: AwareDatetime = created_field()
    updated_at: AwareDatetime = updated_field()


class UserCreate(UserBase):
    password: str

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return check_password(value)


class UserPublic(UserBase):
    """What screens and the CLI show: never the hash."""

    id: int
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None


class UserSession(SQLModel, table=True):
    """One logged-in browser. Deleted at logout; refused after ``expires_at``."""

    __tablename__ = "user_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: AwareDatetime = created_field()
    expires_at: AwareDatetime


class CaseClaim(SQLModel, table=True):
    """Who is working a case now: one operator at a time; a claim lapses after ``CLAIM_HOURS``."""

    __tablename__ = "case_claims"

    case_id: str = Field(primary_key=True, max_length=80)
    user_id: int = Field(foreign_key="users.id", index=True)
    username: str = Field(max_length=64)  # shown on worklists without a join
    claimed_at: AwareDatetime
