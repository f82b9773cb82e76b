"""The FastAPI app: Twilio's REST subset under /2010-04-01; the sandbox's controls, /sandbox."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData

from sandbox.callbacks import CALL_EVENTS, CallbackDispatcher
from sandbox.config import SandboxConfig, Target
from sandbox.control import FaultUpdate, InboundSms, KeyPress, faults_json
from sandbox.listing import CALLS, MESSAGES, list_page, twilio_view
from sandbox.resources import (
    API_VERSION,
    E164,
    TwilioApiError,
    call_resource,
    message_resource,
)
from sandbox.state import SandboxState
from sandbox.webhooks import gather_params, inbound_sms_params

ACCOUNT = f"/{API_VERSION}/Accounts/{{account_sid}}"
# Twilio's reserved opt-out and opt-in keywords (matched on the whole, trimmed body).
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
_FAULT_ERRORS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}


def create_sandbox_app(config: SandboxConfig) -> FastAPI:
    state = SandboxState(config)
    dispatcher = CallbackDispatcher(config, state)
    sandbox = _Sandbox(config, state, dispatcher)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:  # pending callbacks die with the server instead of outliving its loop
            await dispatcher.aclose()

    app = FastAPI(title="CollectFlow Twilio sandbox", lifespan=lifespan)
    app.state.sandbox = state
    app.state.callbacks = dispatcher
    app.add_exception_handler(TwilioApiError, _twilio_error_response)  # type: ignore[arg-type]
    sandbox.register(app)
    return app


async def _twilio_error_response(_: Request, exc: TwilioApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


class _Sandbox:
    def __init__(
        self, config: SandboxConfig, state: SandboxState, dispatcher: CallbackDispatcher
    ) -> None:
        self._config = config
        self._state = state
        self._dispatcher = dispatcher

    def register(self, app: FastAPI) -> None:
        post, get, delete = ["POST"], ["GET"], ["DELETE"]
        app.add_api_route(f"{ACCOUNT}/Messages.json", self.create_message, methods=post)
        app.add_api_route(f"{ACCOUNT}/Calls.json", self.create_call, methods=post)
        app.add_api_route(f"{ACCOUNT}/Messages.json", self.list_messages, methods=get)
        app.add_api_route(f"{ACCOUNT}/Calls.json", self.list_calls, methods=get)
        app.add_api_route(f"{ACCOUNT}/Messages/{{sid}}.json", self.fetch_message, methods=get)
        app.add_api_route(f"{ACCOUNT}/Calls/{{sid}}.json", self.fetch_call, methods=get)
        app.add_api_route("/sandbox/health", self.health, methods=get)
        app.add_api_route("/sandbox/faults", self.get_faults, methods=get)
        app.add_api_route("/sandbox/faults", self.set_faults, methods=post)
        app.add_api_route("/sandbox/faults", self.reset_faults, methods=delete)
        app.add_api_route("/sandbox/outbox", self.outbox, methods=get)
        app.add_api_route("/sandbox/outbox", self.clear_outbox, methods=delete)
        app.add_api_route("/sandbox/inbound", self.inbound, methods=post)
        app.add_api_route("/sandbox/calls/{sid}/press", self.press, methods=post)

    # -- Twilio REST API ------------------------------------------------------------------------

    async def create_message(self, request: Request, account_sid: str) -> JSONResponse:
        return await self._create(request, account_sid, "messages", self._new_message)

    async def create_call(self, request: Request, account_sid: str) -> JSONResponse:
        return await self._create(request, account_sid, "calls", self._new_call)

    async def fetch_message(self, request: Request, account_sid: str, sid: str) -> JSONResponse:
        self._authenticate(request, account_sid)
        message = self._state.message(sid)
        if message is None:
            raise _not_found(request)
        return JSONResponse(twilio_view(message))

    async def fetch_call(self, request: Request, account_sid: str, sid: str) -> JSONResponse:
        self._authenticate(request, account_sid)
        call = self._state.call(sid)
        if call is None:
            raise _not_found(request)
        return JSONResponse(twilio_view(call))

    async def list_messages(self, request: Request, account_sid: str) -> JSONResponse:
        await self._list_faults(request, account_sid, "messages")
        page = list_page(MESSAGES, self._state.messages(), request.query_params, request.url.path)
        return JSONResponse(page)

    async def list_calls(self, request: Request, account_sid: str) -> JSONResponse:
        await self._list_faults(request, account_sid, "calls")
        page = list_page(CALLS, self._state.calls(), request.query_params, request.url.path)
        return JSONResponse(page)

    async def _list_faults(self, request: Request, account_sid: str, target: Target) -> None:
        """Twilio's lists fail as its creates do: planned and random 5xx and timeouts."""
        self._authenticate(request, account_sid)
        fault = self._state.decide_fault(target)
        if fault is not None and fault.kind == "timeout":
            await self._stall(request)
        if fault is not None:
            raise _fault_error(fault.status if fault.kind == "error" else 500)

    async def _create(
        self,
        request: Request,
        account_sid: str,
        target: Target,
        build: Callable[[FormData], dict[str, Any]],
    ) -> JSONResponse:
        """Auth, then injected faults, then the rate limit, then Twilio's own validation."""
        self._authenticate(request, account_sid)
        form = await request.form()
        fault = self._state.decide_fault(target)
        if fault is not None and fault.kind == "error":
            raise _fault_error(fault.status)
        if fault is not None and not fault.commits:
            await self._stall(request)
            raise _fault_error(500)
        if not self._state.take_rate_token():
            raise _fault_error(429)
        resource = build(form)
        if fault is not None:  # a committed timeout: sent, but the client never hears so
            await self._stall(request)
            raise _fault_error(500)
        return JSONResponse(resource, status_code=201)

    def _new_message(self, form: FormData) -> dict[str, Any]:
        to = _required(form, "To", 21604, "A 'To' phone number is required.")
        from_ = _required(form, "From", 21603, "A 'From' phone number is required.")
        body = _required(form, "Body", 21602, "Message body is required.")
        self._check_number(to)
        faults = self._state.faults
        if to in faults.non_mobile_numbers:
            raise TwilioApiError(400, 21614, f"'To' number {to} is not a valid mobile number")
        if to in faults.unsubscribed_numbers:
            raise TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        callback = _optional(form, "StatusCallback")
        message = self._state.add_message(
            message_resource(self._config.account_sid, to, from_, body), callback
        )
        self._dispatcher.start_message_lifecycle(message["sid"], callback)
        return message

    def _new_call(self, form: FormData) -> dict[str, Any]:
        to = _required(form, "To", 21201, "No 'To' number is specified")
        from_ = _required(form, "From", 21213, "No 'From' number is specified")
        twiml = _optional(form, "Twiml")
        if twiml is None and _optional(form, "Url") is None:
            raise TwilioApiError(400, 21205, "Url parameter is required.")
        self._check_number(to)
        callback = _optional(form, "StatusCallback")
        call = self._state.add_call(
            call_resource(self._config.account_sid, to, from_), twiml, callback
        )
        self._dispatcher.start_call_lifecycle(call["sid"], callback, _call_events(form))
        return call

    def _authenticate(self, request: Request, account_sid: str) -> None:
        user, token = _basic_credentials(request.headers.get("authorization", ""))
        valid_user = secrets.compare_digest(user.encode(), self._config.account_sid.encode())
        valid_token = secrets.compare_digest(token.encode(), self._config.auth_token.encode())
        if not (valid_user and valid_token):
            raise TwilioApiError(
                401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
            )
        if account_sid != self._config.account_sid:
            raise _not_found(request)

    def _check_number(self, to: str) -> None:
        if not E164.match(to) or to in self._state.faults.invalid_numbers:
            raise TwilioApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")

    async def _stall(self, request: Request) -> None:
        """Hang like an overloaded provider, but stop as soon as the client has given up."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._state.faults.timeout_seconds):
                # The body is already read, so the next ASGI message is the client leaving.
                while (await request.receive())["type"] != "http.disconnect":
                    pass

    # -- sandbox controls -----------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        outbox = self._state.outbox()
        return {
            "status": "ok",
            "account_sid": self._config.account_sid,
            "public_base_url": self._config.public_base_url,
            "messages": len(outbox["messages"]),
            "calls": len(outbox["calls"]),
        }

    async def get_faults(self) -> dict[str, Any]:
        return faults_json(self._state.faults)

    async def set_faults(self, update: FaultUpdate) -> dict[str, Any]:
        return faults_json(self._state.update_faults(update.changes()))

    async def reset_faults(self) -> dict[str, Any]:
        return faults_json(self._state.reset_faults())

    async def outbox(self, to: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return self._state.outbox(_query_number(to) if to is not None else None)

    async def clear_outbox(self) -> dict[str, str]:
        self._state.clear_outbox()
        return {"status": "cleared"}

    async def inbound(self, sms: InboundSms) -> JSONResponse:
        to = sms.to or self._state.last_sender_to(sms.from_)
        if to is None:
            return _control_error(400, f"no 'to' given and nothing was ever sent to {sms.from_}")
        # Twilio applies opt-out keywords itself and still forwards the message to the webhook.
        keyword = sms.body.strip().upper()
        if keyword in OPT_OUT or keyword in OPT_IN:
            self._state.set_subscribed(sms.from_, subscribed=keyword in OPT_IN)
        params = inbound_sms_params(self._config.account_sid, sms.from_, to, sms.body)
        result = await self._post_webhook(sms.url, params)
        unsubscribed = sms.from_ in self._state.faults.unsubscribed_numbers
        return JSONResponse(
            {"message_sid": params["MessageSid"], "unsubscribed": unsubscribed, **result}
        )

    async def press(self, sid: str, key: KeyPress) -> JSONResponse:
        call = self._state.call(sid)
        if call is None:
            return _control_error(404, f"no call {sid} in the outbox")
        url = key.url or _gather_action(call["twiml"])
        if url is None:
            return _control_error(400, "no 'url' given and the call's TwiML has no <Gather action>")
        result = await self._post_webhook(url, gather_params(call, key.digits))
        return JSONResponse({"call_sid": sid, **result})

    async def _post_webhook(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._dispatcher.post_signed(url, params)
        except httpx.HTTPError as exc:
            return {"webhook_status": None, "webhook_body": None, "error": repr(exc)}
        return {
            "webhook_status": response.status_code,
            "webhook_body": response.text,
            "error": None,
        }


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, token = decoded.partition(":")
    return user, token


def _optional(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def _required(form: FormData, name: str, code: int, message: str) -> str:
    value = _optional(form, name)
    if value is None:
        raise TwilioApiError(400, code, message)
    return value


def _call_events(form: FormData) -> set[str]:
    """StatusCallbackEvent comes repeated or space-separated; Twilio's default is "completed"."""
    given = {event for value in form.getlist("StatusCallbackEvent") for event in str(value).split()}
    return (given & CALL_EVENTS) or {"completed"}


def _fault_error(status: int) -> TwilioApiError:
    code, message = _FAULT_ERRORS[status]
    return TwilioApiError(status, code, message)


def _not_found(request: Request) -> TwilioApiError:
    message = f"The requested resource {request.url.path} was not found"
    return TwilioApiError(404, 20404, message)


def _control_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _query_number(raw: str) -> str:
    """An unencoded "+" in a query string arrives as a space: `?to=+8613...` means "+8613..."."""
    stripped = raw.strip()
    return f"+{stripped}" if raw.startswith(" ") and stripped.isdigit() else stripped


def _gather_action(twiml: str | None) -> str | None:
    if twiml is None:
        return None
    try:
        gather = ET.fromstring(twiml).find(".//Gather")
    except ET.ParseError:
        return None
    return gather.get("action") if gather is not None else None
