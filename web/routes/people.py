"""The administrator's people screen: who may log in, their state; unlock, disable, enable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from models.common import Role
from web import accounts
from web.pages import render, web_state
from web.session import Forbidden, Person, check_csrf, person_with

router = APIRouter(include_in_schema=False)
Admins = Depends(person_with(Role.ADMIN))
ACTIONS = ("unlock", "disable", "enable")


@router.get("/users")
async def people(request: Request, found: Annotated[Person, Admins]) -> Response:
    state = web_state(request)
    if state.database is None:
        raise Forbidden("forbidden.unavailable")
    users = await accounts.list_users(state.database)
    done = request.query_params.get("done")
    return render(
        request,
        "people.html",
        user=found.user,
        csrf=found.csrf_token,
        users=users,
        now=state.clock(),
        notice=f"people.done_{done}" if done in ACTIONS else None,
    )


@router.post("/users/{username}/{action}")
async def change(
    request: Request, found: Annotated[Person, Admins], username: str, action: str
) -> Response:
    await check_csrf(request, found.csrf_token)
    state = web_state(request)
    if state.database is None or action not in ACTIONS:
        raise Forbidden("forbidden.role")
    if action != "enable" and username == found.user.username:
        raise Forbidden("people.not_yourself")
    try:
        if action == "unlock":
            await accounts.unlock(state.database, username)
        else:
            await accounts.set_active(state.database, username, action == "enable")
    except accounts.AccountError as exc:
        raise Forbidden("people.unknown") from exc
    return RedirectResponse(f"/users?done={action}", status_code=303)
