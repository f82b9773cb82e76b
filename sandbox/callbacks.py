"""Signed requests to the application: status callbacks, inbound SMS and Gather results.

Status callbacks run as background tasks that walk a resource through Twilio's lifecycle. A failing
callback is retried, logged and dropped: the sandbox never fails because an application is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from sandbox.config import SandboxConfig
from sandbox.resources import now
from sandbox.state import SandboxState
from sandbox.webhooks import call_status_params, message_status_params

log = logging.getLogger("sandbox.callbacks")

CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
UNDELIVERED_CODE = 30003
UNDELIVERED_MESSAGE = "Unreachable destination handset"


class CallbackDispatcher:
    def __init__(self, config: SandboxConfig, state: SandboxState) -> None:
        self._config = config
        self._state = state
        self._validator = RequestValidator(config.auth_token)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def signature(self, url: str, params: dict[str, str]) -> str:
        return str(self._validator.compute_signature(url, params))

    async def post_signed(self, url: str, params: dict[str, str]) -> httpx.Response:
        """POST form-encoded and signed exactly as Twilio does; raises httpx.HTTPError."""
        if self._client is None:  # created lazily: it must belong to the serving event loop
            self._client = httpx.AsyncClient(timeout=self._config.callback_timeout_seconds)
        headers = {
            "X-Twilio-Signature": self.signature(url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        return await self._client.post(url, data=params, headers=headers)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def idle(self) -> None:
        """Wait until every running lifecycle has finished (tests and shutdown use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- lifecycles -----------------------------------------------------------------------------

    def start_message_lifecycle(self, sid: str, callback_url: str | None) -> None:
        self._spawn(self._message_lifecycle(sid, callback_url))

    def start_call_lifecycle(self, sid: str, callback_url: str | None, events: set[str]) -> None:
        self._spawn(self._call_lifecycle(sid, callback_url, frozenset(events)))

    async def _message_lifecycle(self, sid: str, url: str | None) -> None:
        await self._pause()
        sent = self._state.update_message(sid, status="sent", date_sent=now(), date_updated=now())
        if sent is None:
            return
        await self._notify(url, message_status_params(sent))
        await self._pause()
        if sent["to"] in self._state.faults.undelivered_numbers:
            final = self._state.update_message(
                sid,
                status="undelivered",
                error_code=UNDELIVERED_CODE,
                error_message=UNDELIVERED_MESSAGE,
                date_updated=now(),
            )
        else:
            final = self._state.update_message(sid, status="delivered", date_updated=now())
        if final is not None:
            await self._notify(url, message_status_params(final))

    async def _call_lifecycle(self, sid: str, url: str | None, events: frozenset[str]) -> None:
        call = self._state.call(sid)
        if call is None:
            return
        sequence = 0
        if "initiated" in events:
            await self._notify(url, call_status_params(call, "initiated", sequence))
            sequence += 1
        await self._pause()
        # Twilio stamps start_time when it dials, so unanswered calls have one too.
        stamp = now()
        ringing = self._state.update_call(
            sid, status="ringing", start_time=stamp, date_updated=stamp
        )
        if ringing is None:
            return
        if "ringing" in events:
            await self._notify(url, call_status_params(ringing, "ringing", sequence))
            sequence += 1
        await self._pause()
        answered = self._answer(sid, ringing["to"])
        if answered is None:
            return
        if answered["status"] == "in-progress":
            if "answered" in events:
                await self._notify(url, call_status_params(answered, "in-progress", sequence))
                sequence += 1
            await self._pause()
            answered = self._hang_up(sid)
        # Twilio always reports the end of a call when a status callback URL is given.
        if answered is not None:
            await self._notify(url, call_status_params(answered, answered["status"], sequence))

    def _answer(self, sid: str, to: str) -> dict[str, Any] | None:
        faults = self._state.faults
        stamp = now()
        for status, numbers in (
            ("busy", faults.busy_numbers),
            ("no-answer", faults.no_answer_numbers),
        ):
            if to in numbers:
                return self._state.update_call(
                    sid, status=status, duration="0", end_time=stamp, date_updated=stamp
                )
        return self._state.update_call(sid, status="in-progress", date_updated=stamp)

    def _hang_up(self, sid: str) -> dict[str, Any] | None:
        stamp = now()
        duration = str(self._config.call_duration_seconds)
        return self._state.update_call(
            sid, status="completed", duration=duration, end_time=stamp, date_updated=stamp
        )

    # -- plumbing -------------------------------------------------------------------------------

    async def _pause(self) -> None:
        await asyncio.sleep(self._config.step_delay_seconds)

    async def _notify(self, url: str | None, params: dict[str, str]) -> None:
        """One status callback: retried on 5xx or a network error, then logged and dropped."""
        if url is None or not self._state.faults.callbacks_enabled:
            return
        for attempt in range(self._config.callback_retries + 1):
            if attempt:
                await self._pause()
            try:
                response = await self.post_signed(url, params)
            except httpx.HTTPError as exc:
                log.warning("status callback to %s failed: %r", url, exc)
                continue
            if response.status_code < 500:  # Twilio does not retry an application's 4xx either
                return
            log.warning("status callback to %s answered %s", url, response.status_code)
        log.warning("status callback to %s dropped: %s", url, params)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("lifecycle task failed", exc_info=task.exception())
