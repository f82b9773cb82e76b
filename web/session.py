"""Who is at the browser: the session cookie, the role check and the CSRF check.

Routes depend on ``Person`` (any logged-in user) or ``person_with(Role...)``; without a session
a page answers a redirect to the login form, with the wrong role a 403 page. A POST's CSRF
token must equal the session's (or, before login, the signed ``cf_csrf`` cookie's).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from models.common import Actor, Role
from models.users import User
from web import accounts
from web.pages import CSRF_COOKIE, SESSION_COOKIE, web_state
from web.security import new_token, same_token


class LoginRequired(Exception):  # a control-flow signal, not an error
    """No (valid) session: the handler redirects to the login form."""


class Forbidden(Exception):
    """Logged in, but this screen or action is not for this role (or the CSRF token failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # a catalogue key


async def optional_person(request: Request) -> accounts.SessionUser | None:
    state = web_state(request)
    token = state.signer.unsign(SESSION_COOKIE, request.cookies.get(SESSION_COOKIE))
    if token is None or state.database is None:
        return None
    return await accounts.session_user(state.database, token, state.clock())


async def person(request: Request) -> accounts.SessionUser:
    found = await optional_person(request)
    if found is None:
        raise LoginRequired()
    return found


Person = Annotated[accounts.SessionUser, Depends(person)]
OptionalPerson = Annotated[accounts.SessionUser | None, Depends(optional_person)]


def person_with(
    *roles: Role,
) -> Callable[[accounts.SessionUser], Coroutine[Any, Any, accounts.SessionUser]]:
    async def check(found: Person) -> accounts.SessionUser:
        if found.user.role not in roles:
            raise Forbidden("forbidden.role")
        return found

    return check


def actor_of(user: User) -> Actor:
    """The person as the actor the case records: their username and role."""
    return Actor(id=user.username, role=user.role)


async def check_csrf(request: Request, expected: str | None) -> dict[str, str]:
    """The submitted form, after its ``csrf`` field matched ``expected``; Forbidden otherwise."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    if not same_token(values.get("csrf"), expected):
        raise Forbidden("forbidden.csrf")
    return values


def anonymous_csrf(request: Request) -> tuple[str, bool]:
    """The login form's token from its cookie, or a new one (True: the cookie must be set)."""
    state = web_state(request)
    current = state.signer.unsign(CSRF_COOKIE, request.cookies.get(CSRF_COOKIE))
    return (current, False) if current else (new_token(), True)
