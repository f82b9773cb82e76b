"""Form parameters of the requests Twilio makes to an application, named as Twilio names them."""

from __future__ import annotations

from typing import Any

from sandbox.resources import API_VERSION, new_sid, now, num_segments


def message_status_params(message: dict[str, Any]) -> dict[str, str]:
    params = {
        "AccountSid": message["account_sid"],
        "ApiVersion": API_VERSION,
        "From": message["from"],
        "MessageSid": message["sid"],
        "MessageStatus": message["status"],
        "SmsSid": message["sid"],
        "SmsStatus": message["status"],
        "To": message["to"],
    }
    if message["error_code"] is not None:
        params["ErrorCode"] = str(message["error_code"])
    return params


def call_status_params(call: dict[str, Any], status: str, sequence: int) -> dict[str, str]:
    """`status` is passed apart from the resource: "initiated" is reported but never stored."""
    params = _call_params(call, status)
    params.update(
        {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": now(),
        }
    )
    if call["duration"] is not None:
        params["CallDuration"] = call["duration"]
    return params


def gather_params(call: dict[str, Any], digits: str) -> dict[str, str]:
    params = _call_params(call, "in-progress")
    params.update({"Digits": digits, "FinishedOnKey": "", "msg": "Gather End"})
    return params


def inbound_sms_params(account_sid: str, from_: str, to: str, body: str) -> dict[str, str]:
    sid = new_sid("SM")
    return {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": from_,
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": str(num_segments(body)),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
    }


def _call_params(call: dict[str, Any], status: str) -> dict[str, str]:
    return {
        "AccountSid": call["account_sid"],
        "ApiVersion": API_VERSION,
        "CallSid": call["sid"],
        "CallStatus": status,
        "Called": call["to"],
        "Caller": call["from"],
        "Direction": call["direction"],
        "From": call["from"],
        "To": call["to"],
    }
