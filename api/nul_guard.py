"""422 for NUL characters anywhere a request carries text: JSON bodies, forms, query, path.

PostgreSQL refuses NUL in text (a 500 from deep inside a statement), logs and terminals mangle
it, and no name, note or id needs it. This ASGI layer sits inside the body-size limit (the body
arrives in one piece) and answers each NUL with a field-level error in the API's usual shape,
before routing, so every route and every future one is covered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "\x00"
MESSAGE = "must not contain NUL characters (\\u0000)"
MAX_REPORTED = 20


def _error(location: str, path: list[str | int]) -> dict[str, Any]:
    field = ".".join(str(p) for p in path) or location
    return {"loc": [location, *path], "field": field, "msg": MESSAGE, "type": "value_error"}


def json_nul_paths(value: Any, path: list[str | int] | None = None) -> Iterator[list[str | int]]:
    """The path of every string (value or key) holding a NUL, depth first."""
    path = path or []
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            shown = key.replace(NUL, "\\u0000")
            if NUL in key:
                yield [*path, shown]
            yield from json_nul_paths(item, [*path, shown])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_nul_paths(item, [*path, index])


def _form_errors(text: str, location: str) -> list[dict[str, Any]]:
    pairs = parse_qsl(text, keep_blank_values=True)
    return [
        _error(location, [name.replace(NUL, "\\u0000")])
        for name, value in pairs
        if NUL in name or NUL in value
    ]


def _body_errors(body: bytes, content_type: str) -> list[dict[str, Any]]:
    if "json" in content_type:
        if b"\\u0000" not in body:  # a raw NUL byte is invalid JSON: the parser's 422 says so
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return []  # malformed JSON: FastAPI's own 422 names the position
        return [_error("body", p) for p in json_nul_paths(data)]
    if "x-www-form-urlencoded" in content_type:
        return _form_errors(body.decode("latin-1"), "body")
    return []


def request_errors(scope: Scope, body: bytes) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if NUL in scope.get("path", ""):
        errors.append(_error("path", []))
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or NUL in query:
        errors.extend(_form_errors(query, "query"))
    if body:
        headers = dict(scope.get("headers", ()))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        errors.extend(_body_errors(body, content_type))
    return errors[:MAX_REPORTED]


class NulGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = await receive()
        body = first.get("body", b"") if first["type"] == "http.request" else b""
        errors = request_errors(scope, body)
        if errors:
            await _reply(send, errors)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return first
            return await receive()

        await self.app(scope, replay, send)


async def _reply(send: Send, errors: list[dict[str, Any]]) -> None:
    body = json.dumps({"detail": errors}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
