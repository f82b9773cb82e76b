"""The start page after login: the screens this person's role may open."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.pages import render
from web.screens import screens_of
from web.session import Person

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, found: Person) -> Response:
    return render(
        request,
        "home.html",
        user=found.user,
        csrf=found.csrf_token,
        screens=screens_of(found.user),
    )
