"""Helpers for tests and demos: serve an ASGI app on a free port, and record webhooks.

async with serve(create_sandbox_app(config)) as sandbox_url, serve(recorder.app) as hook_url:
    ...
    posts = await recorder.wait_for(lambda r: r.path == "/status", count=2)
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

_STARTUP_POLLS = 1000  # x 10 ms


@asynccontextmanager
async def serve(app: FastAPI, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run `app` with uvicorn in the current event loop; yields its base URL."""
    # Binding the socket ourselves avoids the race of "find a free port, then bind it". The
    # explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every keep-alive request stalls 40 ms on Nagle's algorithm.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(_STARTUP_POLLS):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            if task.done():
                task.result()  # re-raises whatever stopped uvicorn
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass(frozen=True)
class Received:
    path: str
    url: str
    form: dict[str, str]
    signature: str | None


class WebhookRecorder:
    """A stand-in application: records every form POST and answers `status` with empty TwiML."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self._changed = asyncio.Condition()
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self._record, methods=["POST"])

    def clear(self) -> None:
        self.received.clear()
        self.status = 200

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [r for r in self.received if predicate(r)]

    async def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, seconds: float = 5.0
    ) -> list[Received]:
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: len(self.matching(predicate)) >= count)
        return self.matching(predicate)

    async def _record(self, request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        signature = request.headers.get("x-twilio-signature")
        self.received.append(Received(request.url.path, str(request.url), fields, signature))
        async with self._changed:
            self._changed.notify_all()
        return Response("<Response></Response>", status_code=self.status, media_type="text/xml")


def signature_valid(auth_token: str, received: Received) -> bool:
    """Check a recorded request the way an application checks Twilio's."""
    validator = RequestValidator(auth_token)
    return bool(validator.validate(received.url, received.form, received.signature or ""))
