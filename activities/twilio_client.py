"""SMS and voice calls through the real `twilio` SDK, with provider errors classified.

The base URL is configurable so dev and tests reach the local sandbox (`sandbox/`), which speaks
the same REST API. Errors come out as one of three exceptions, so the activity layer can decide:

- `PermanentContactError`: this number cannot be reached on this channel (invalid, unsubscribed,
  not mobile...). Retrying is pointless; fall back to the next channel.
- `TransientProviderError`: 429, 5xx, timeouts, network errors. Retry with backoff.
  `outcome_unknown` says whether the provider may already have accepted the request.
- `ProviderRejectedError`: any other refusal (bad credentials, bad sender, malformed request).
  Our fault, not the borrower's: neither retrying nor falling back will help.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

# Twilio error codes that mean "this contact cannot be reached this way", not "try later".
PERMANENT_CONTACT_CODES = frozenset(
    {
        13224,  # voice: the number is invalid or Twilio does not call it
        13225,  # voice: forbidden phone number
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
        21401,  # invalid phone number
        21407,  # this phone number type does not support SMS
        21408,  # permission to send to this region is not enabled
        21610,  # recipient replied STOP (unsubscribed)
        21612,  # 'To' is not currently reachable via SMS
        21614,  # 'To' is not a valid mobile number
    }
)
TOO_MANY_REQUESTS = 20429
VOICE_LOCALES = {"zh": "zh-CN", "en": "en-US"}
# Ask for every call progress event: the activity layer records each one it receives.
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


class ProviderError(Exception):
    """Base of the classified provider errors; `code` is Twilio's, None when there was none."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code}: {reason}" if code is not None else reason)
        self.code = code
        self.reason = reason


class PermanentContactError(ProviderError):
    pass


class ProviderRejectedError(ProviderError):
    pass


class TransientProviderError(ProviderError):
    def __init__(self, code: int | None, reason: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(code, reason)
        # True when the request may have reached Twilio (a timeout, a dropped connection):
        # resending could contact the borrower twice.
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class ProviderResult:
    sid: str
    status: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class ProviderRecord:
    """One message or call as Twilio's list holds it: what reconciliation compares."""

    sid: str
    to: str
    created: datetime
    status: str
    body: str | None  # messages only: Twilio keeps no text for a call


# How many of one number's recent records a reconciliation reads (Twilio pages by 50).
RECONCILE_LIMIT = 200


class TwilioMessenger:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str,
        from_number: str,
        status_callback_base: str | None,
        timeout_seconds: float,
    ) -> None:
        self._from = from_number
        self._callback_base = status_callback_base
        self._timeout = timeout_seconds
        self._http = AsyncTwilioHttpClient(timeout=timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # Messages and Calls both live on the `api` domain (api.twilio.com/2010-04-01).
        self._client.api.base_url = base_url.rstrip("/")
        # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host of every URL
        # (api.sydney.au1.twilio.com); the configured base URL must be used as given.
        self._client.edge = None
        self._client.region = None

    async def send_sms(
        self, to: str, body: str, status_callback: str | None = None
    ) -> ProviderResult:
        callback = self._callback_url(status_callback)
        extra: dict[str, Any] = {}
        if callback is not None:
            extra = {"status_callback": callback}
        message = await self._call(
            self._client.messages.create_async(to=to, from_=self._from, body=body, **extra)
        )
        return _result(message)

    async def place_call(
        self, to: str, twiml: str, status_callback: str | None = None
    ) -> ProviderResult:
        callback = self._callback_url(status_callback)
        extra: dict[str, Any] = {}
        if callback is not None:
            extra = {"status_callback": callback, "status_callback_event": CALL_EVENTS}
        call = await self._call(
            self._client.calls.create_async(to=to, from_=self._from, twiml=twiml, **extra)
        )
        return _result(call)

    async def recent_messages(self, to: str, since: datetime) -> list[ProviderRecord]:
        """Messages to ``to`` created since ``since``. Not Twilio's ``DateSent>`` filter: a
        message still queued has no DateSent and that filter leaves it out, so a send slower to
        leave the queue than the settle time read as "never sent" and went out twice (chaos
        seed 29). ``To`` alone lists them newest first, queued ones included."""
        found = await self._call(self._client.messages.list_async(to=to, limit=RECONCILE_LIMIT))
        records = [_record(m, body=str(m.body or "")) for m in found]
        return [r for r in records if r.created >= since]

    async def recent_calls(self, to: str, since: datetime) -> list[ProviderRecord]:
        """Calls to ``to`` created since ``since`` (not ``StartTime>``, which leaves out a call
        not yet dialled, for the same reason as messages)."""
        found = await self._call(self._client.calls.list_async(to=to, limit=RECONCILE_LIMIT))
        records = [_record(c, body=None) for c in found]
        return [r for r in records if r.created >= since]

    async def aclose(self) -> None:
        await self._http.close()

    async def _call(self, request: Any) -> Any:
        """Await an SDK request under our timeout and turn every failure into a ProviderError."""
        try:
            # twilio 9.13 keeps AsyncTwilioHttpClient(timeout=...) but never hands it to aiohttp
            # (each request passes timeout=None, i.e. none at all), so the deadline is ours.
            async with asyncio.timeout(self._timeout):
                return await request
        except TwilioRestException as exc:
            raise _classify_rest_error(exc) from exc
        except TwilioException as exc:  # a list page that failed: ("Unable to fetch page", resp)
            raise _classify_page_error(exc) from exc
        except TimeoutError as exc:
            reason = f"no answer from Twilio within {self._timeout}s"
            raise TransientProviderError(None, reason, outcome_unknown=True) from exc
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise TransientProviderError(None, f"cannot connect: {exc}") from exc
        except (aiohttp.ClientError, json.JSONDecodeError) as exc:  # or a reply that is not JSON
            reason = f"request failed mid-flight: {exc!r}"
            raise TransientProviderError(None, reason, outcome_unknown=True) from exc

    def _callback_url(self, status_callback: str | None) -> str | None:
        """Absolute URLs are used as given; paths are joined onto `status_callback_base`."""
        if status_callback is None or urlsplit(status_callback).scheme:
            return status_callback
        if self._callback_base is None:
            raise ValueError(f"relative status callback {status_callback!r} needs a base URL")
        return urljoin(self._callback_base.rstrip("/") + "/", status_callback.lstrip("/"))


def build_twiml(
    message: str,
    locale: str,
    gather_action_url: str,
    prompt: str,
    farewell: str | None = None,
) -> str:
    """A call that says `message` then `prompt` while listening for one key (the borrower may
    press it at any moment). If no key comes, it says `farewell`, or repeats `message` so an
    answering machine still records the reminder. Everything in the borrower's language; the
    SDK escapes the text for XML."""
    language = _voice_language(locale)
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=gather_action_url, method="POST")
    gather.say(f"{message} {prompt}", language=language)
    response.say(farewell if farewell is not None else message, language=language)
    return str(response.to_xml(xml_declaration=False))


def _voice_language(locale: str) -> str:
    language = VOICE_LOCALES.get(locale.replace("_", "-").split("-")[0].lower())
    if language is None:
        raise ValueError(f"no voice for locale {locale!r}; supported: {sorted(VOICE_LOCALES)}")
    return language


def _classify_rest_error(exc: TwilioRestException) -> ProviderError:
    status, code = int(exc.status), int(exc.code) if exc.code is not None else None
    reason = str(exc.msg)
    if status == 429 or code == TOO_MANY_REQUESTS or status >= 500:
        # Twilio refused or failed before accepting: resending is safe.
        return TransientProviderError(code, reason)
    if code in PERMANENT_CONTACT_CODES:
        return PermanentContactError(code, reason)
    return ProviderRejectedError(code, reason)


def _classify_page_error(exc: TwilioException) -> ProviderError:
    response = exc.args[1] if len(exc.args) > 1 else None
    status = int(getattr(response, "status_code", 0) or 0)
    reason = f"Twilio could not list the records (HTTP {status or '?'})"
    if status == 429 or status >= 500 or status == 0:
        return TransientProviderError(None, reason)
    return ProviderRejectedError(None, reason)


def _result(instance: Any) -> ProviderResult:
    raw = _resource_fields(instance)
    return ProviderResult(sid=str(raw["sid"]), status=str(raw["status"]), raw=raw)


def _record(instance: Any, body: str | None) -> ProviderRecord:
    created = instance.date_created
    if not isinstance(created, datetime):
        raise TransientProviderError(None, f"Twilio listed {instance.sid} without date_created")
    return ProviderRecord(
        sid=str(instance.sid),
        to=str(instance.to),
        created=created,
        status=str(instance.status),
        body=body,
    )


def _resource_fields(instance: Any) -> dict[str, Any]:
    """The resource's fields as Twilio sent them (the SDK keeps no copy of the JSON):
    `from_` renamed back to `from`, dates back to RFC 2822, so `raw` is JSON-serialisable."""
    fields: dict[str, Any] = {}
    for name, value in vars(instance).items():
        if name.startswith("_"):
            continue
        key = "from" if name == "from_" else name
        fields[key] = format_datetime(value) if isinstance(value, datetime) else value
    return fields
