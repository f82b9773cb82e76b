"""ASGI middleware: a cap on request bodies, and request counting by route template."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics

MAX_BODY_BYTES = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyLimitMiddleware:
    """413 for a body over the limit, whether announced by Content-Length or streamed.

    The body is read here (it is small by definition) and handed to the app in one piece.
    ``larger`` names the few upload routes (path patterns) allowed a bigger body, each with its
    own cap: the screens' evidence photos and export zips.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), cap) for pattern, cap in (larger or {}).items()]

    def _cap(self, path: str) -> int:
        return next(
            (cap for pattern, cap in self.larger if pattern.fullmatch(path)), self.max_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        cap = self._cap(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is None:
            await _reply(send, 400, "Content-Length is not a number")
            return
        if declared > cap:
            await _reply(send, 413, self._too_large(cap))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _reply(send, 413, self._too_large(cap))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _too_large(cap: int) -> str:
        return f"request body is larger than {cap} bytes"


def _content_length(scope: Scope) -> int | None:
    """The declared length, 0 when absent, None when it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return 0


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Label values are bounded: a method outside HTTP's own set, a path no route matches and a status
# outside 100-599 each collapse to one value, so no caller can grow /metrics by inventing them.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
UNMATCHED = "unmatched"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


class RequestCountMiddleware:
    """Counts requests by method, route template (not the raw path: no id explosion), status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None)
            metrics.REQUESTS.labels(
                method_label(scope["method"]),
                template if isinstance(template, str) and template else UNMATCHED,
                status_label(status),
            ).inc()
