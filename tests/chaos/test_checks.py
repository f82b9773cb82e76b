"""The chaos invariants can fail: each is fed the fault it exists to catch."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.chaos import checks
from tests.chaos.scenario import Script, make_scripts

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
KEY = "case-CH-1/reminder-0"
CALLBACK = f"http://127.0.0.1:8000/webhooks/twilio/status?case_id=case-CH-1&key={KEY}"


def message(
    sid: str, to: str = "+8613900000001", callback: str | None = CALLBACK
) -> dict[str, Any]:
    return {
        "sid": sid,
        "to": to,
        "body": "text",
        "date_created": "Tue, 01 Dec 2026 10:00:00 +0000",
        "status_callback": callback,
    }


def row(status: str, sid: str | None, key: str = KEY) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "case_id": "case-CH-1",
        "channel": "sms",
        "to_number": "+8613900000001",
        "status": status,
        "provider_sid": sid,
    }


def test_a_double_send_is_counted_even_when_the_ledger_row_is_unknown() -> None:
    """Two sends carrying one ledger key are a violation; the ledger's single ``unknown`` row
    (its unique key) cannot hide the second, and the ledger check flags the unknown row too."""
    items = checks.outbox_items({"messages": [message("SM1"), message("SM2")], "calls": []})
    assert [i.key for i in items] == [KEY, KEY]
    double = checks.one_send_per_key(items)
    assert double.violations == 1 and "2 sends" in double.examples[0]
    ledger, _ = checks.ledger_matches_provider(items, [row("unknown", None)])
    assert ledger.violations == 2


def test_one_send_recorded_with_its_sid_passes_both_checks() -> None:
    items = checks.outbox_items({"messages": [message("SM1")], "calls": []})
    assert checks.one_send_per_key(items).violations == 0
    ledger, unsent_unknown = checks.ledger_matches_provider(
        items, [row("delivered", "SM1"), row("unknown", None, key="case-CH-1/reminder-1")]
    )
    assert (ledger.violations, unsent_unknown) == (0, 1)


def test_a_send_without_a_key_or_with_another_sid_is_a_violation() -> None:
    items = checks.outbox_items({"messages": [message("SM9", callback=None)], "calls": []})
    assert checks.one_send_per_key(items).violations == 1
    items = checks.outbox_items({"messages": [message("SM1")], "calls": []})
    ledger, _ = checks.ledger_matches_provider(items, [row("sent", "SM7")])
    assert ledger.violations == 1


def test_a_send_to_the_old_phone_after_the_change_is_a_violation() -> None:
    script = next(s for s in make_scripts(60, 3, "t") if s.kind == "new_phone")
    script.phone_changed_at = AT.timestamp() - 60
    items = checks.outbox_items({"messages": [message("SM1", to=script.phone)], "calls": []})
    assert checks.current_phone_only(items, [script]).violations == 1
    script.phone_changed_at = AT.timestamp() + 60
    assert checks.current_phone_only(items, [script]).violations == 0


def test_a_reopened_case_that_sent_nothing_is_a_violation() -> None:
    script: Script = next(s for s in make_scripts(60, 3, "t") if s.kind == "reopen")
    script.reopened, script.reopened_at = True, AT.timestamp() + 60  # noted after the send
    case_id = f"case-{script.loan_id}"

    def sent_with(key: str) -> list[checks.Sent]:
        hook = f"http://127.0.0.1:8000/webhooks/twilio/status?case_id={case_id}&key={key}"
        messages = [message("SM1", to=script.phone, callback=hook)]
        return checks.outbox_items({"messages": messages, "calls": []})

    # The new case's send counts by its key's generation, whatever the clocks say.
    assert checks.reopened_contacted(sent_with(f"{case_id}/g2/thank-you"), [script]).violations == 0
    assert checks.reopened_contacted(sent_with(f"{case_id}/g1/thank-you"), [script]).violations == 1
    assert checks.reopened_contacted([], [script]).violations == 1


def test_a_reopened_loan_expects_only_the_new_case_payments() -> None:
    script = next(s for s in make_scripts(60, 3, "t") if s.kind == "reopen")
    expected = script.expected()
    assert expected["payments"] == [f"{script.loan_id}-P2"]
    assert Decimal(expected["balance"]) == 0 and expected["notes"] == 0


def test_a_send_is_found_in_a_history_whose_payloads_are_ciphertext() -> None:
    """The stack's histories are encrypted by the payload codec: the pause check's exemption
    ("scheduled before the pause") must read the activity's result through it, or it can
    never apply."""
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payload

    from tests.chaos.checks import _codec, scheduled_at

    sealed = _codec().encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b'{"sid":"SM9"}'))
    assert b"SM9" not in sealed.data
    history = {
        "events": [
            {"eventId": "5", "eventType": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
             "eventTime": "2026-12-01T01:00:00Z", "activityTaskScheduledEventAttributes": {}},
            {"eventId": "7", "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
             "eventTime": "2026-12-01T01:00:09Z",
             "activityTaskCompletedEventAttributes": {
                 "scheduledEventId": "5",
                 "result": {"payloads": [json_format.MessageToDict(sealed)]},
             }},
        ]
    }  # fmt: skip
    found = scheduled_at(history, "SM9")
    assert found is not None and found.isoformat() == "2026-12-01T01:00:00+00:00"
    assert scheduled_at(history, "SM8") is None


def test_a_local_send_is_found_by_its_marker() -> None:
    """A lean run sends as a local activity: the marker's result holds the sid (ciphertext)
    and its data the time the worker scheduled the send, which is the decision's time."""
    import base64
    import json

    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payload

    from tests.chaos.checks import _codec, scheduled_at

    sealed = _codec().encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b'{"sid":"SM7"}'))
    data = {
        "seq": 3,
        "activity_type": "send_sms",
        "original_schedule_time": {"seconds": 1796086800, "nanos": 500000000},
    }
    plain = base64.b64encode(json.dumps(data).encode()).decode()
    history = {
        "events": [
            {"eventId": "9", "eventType": "EVENT_TYPE_MARKER_RECORDED",
             "eventTime": "2026-12-01T01:00:30Z",
             "markerRecordedEventAttributes": {
                 "markerName": "core_local_activity",
                 "details": {
                     "data": {"payloads": [{"data": plain}]},
                     "result": {"payloads": [json_format.MessageToDict(sealed)]},
                 },
             }},
        ]
    }  # fmt: skip
    found = scheduled_at(history, "SM7")
    assert found is not None and found.isoformat() == "2026-12-01T01:00:00.500000+00:00"
    assert scheduled_at(history, "SM8") is None
