"""Twilio's JSON shapes: SIDs, dates, Message and Call resources, and error bodies."""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import phonenumbers

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

# GSM-7 decides how many segments Twilio bills; anything outside it (e.g. Chinese) is UCS-2.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


class TwilioApiError(Exception):
    """An error answered in Twilio's shape: {"code", "message", "more_info", "status"}."""

    def __init__(self, status: int, code: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def new_sid(prefix: str) -> str:
    """Twilio SIDs: a two-letter type prefix and 32 lowercase hex digits (34 characters)."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime) -> str:
    """Twilio's 2010 API dates, e.g. ``Thu, 24 Aug 2023 05:01:45 +0000``."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def now() -> str:
    return rfc2822(datetime.now(UTC))


def num_segments(body: str) -> int:
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def formatted_number(number: str) -> str:
    """Twilio shows North American numbers nationally, e.g. "(415) 555-1212"; others as given."""
    if not number.startswith("+1"):
        return number
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def message_resource(account_sid: str, to: str, from_: str, body: str) -> dict[str, Any]:
    sid = new_sid("SM")
    created = now()
    base = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(num_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{base}/Media.json"},
        "to": to,
        "uri": f"{base}.json",
    }


_CALL_SUBRESOURCES = {
    "feedback": "Feedback.json",
    "user_defined_messages": "UserDefinedMessages.json",
    "notifications": "Notifications.json",
    "recordings": "Recordings.json",
    "streams": "Streams.json",
    "payments": "Payments.json",
    "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions.json",
    "siprec": "Siprec.json",
    "events": "Events.json",
    "feedback_summaries": "FeedbackSummary.json",
    "transcriptions": "Transcriptions.json",
}


def call_resource(account_sid: str, to: str, from_: str) -> dict[str, Any]:
    sid = new_sid("CA")
    created = now()
    base = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    subresources = {name: f"{base}/{leaf}" for name, leaf in _CALL_SUBRESOURCES.items()}
    # Twilio's summaries sit beside the call, not under it.
    subresources["feedback_summaries"] = (
        f"/{API_VERSION}/Accounts/{account_sid}/Calls/FeedbackSummary.json"
    )
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": created,
        "date_updated": created,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": formatted_number(from_),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": subresources,
        "to": to,
        "to_formatted": formatted_number(to),
        "trunk_sid": None,
        "uri": f"{base}.json",
    }
