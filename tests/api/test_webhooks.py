"""Twilio webhooks: signature required (issue test 4), STOP stops SMS, statuses and key presses
reach the case, replays are harmless."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from twilio.request_validator import RequestValidator

from models.common import Channel
from models.tables import AttemptStatus, ContactAttempt
from tests.api.conftest import PUBLIC_URL, TWILIO_TOKEN, ApiHarness

PHONE = "+8613912345678"


def _inbound(text: str, sid: str = "SMin0001", sender: str = PHONE) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "MessageSid": sid,
        "SmsSid": sid,
        "From": sender,
        "To": "+15005550006",
        "Body": text,
        "NumMedia": "0",
    }


def _borrower(api: ApiHarness) -> dict[str, Any]:
    return {**api.overdue_event()["borrower"], "phone": PHONE}


async def test_unsigned_or_wrongly_signed_webhooks_are_403_and_change_nothing(
    api: ApiHarness,
) -> None:
    """No signature, a wrong one, or one made for another URL → 403; the case is untouched."""
    loan_id = await api.open_case(strategy="slow", borrower=_borrower(api))
    stop = _inbound("STOP")
    unsigned = await api.http.post("/webhooks/twilio/inbound", data=stop)
    assert unsigned.status_code == 403
    wrong = await api.signed_post("/webhooks/twilio/inbound", stop, signature="bm90IGl0")
    assert wrong.status_code == 403
    other_url = await api.http.post(
        "/webhooks/twilio/inbound",
        data=stop,
        headers={"X-Twilio-Signature": _signature(f"{PUBLIC_URL}/webhooks/twilio/status", stop)},
    )
    assert other_url.status_code == 403
    tampered = {**stop, "Body": "START"}
    forged = await api.http.post(
        "/webhooks/twilio/inbound",
        data=tampered,
        headers={"X-Twilio-Signature": _signature(f"{PUBLIC_URL}/webhooks/twilio/inbound", stop)},
    )
    assert forged.status_code == 403
    state = (await api.get("auditor", f"/v1/cases/{loan_id}")).json()
    assert state["opted_out"] == []
    assert not [n for n in state["notes"] if "STOP" in n["text"]]


def _signature(url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(TWILIO_TOKEN).compute_signature(url, params))


async def test_signed_stop_opts_out_and_blocks_sms(api: ApiHarness) -> None:
    """A signed STOP from the borrower's phone (found by phone in the database) opts the case
    out of SMS; the next SMS reminder is blocked, not sent. A replay changes nothing."""
    loan_id = await api.open_case(strategy="medium", borrower=_borrower(api))
    response = await api.signed_post("/webhooks/twilio/inbound", _inbound("STOP"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Response" in response.text
    state = await api.wait_for(loan_id, lambda s: s["opted_out"] == ["sms"])

    replay = await api.signed_post("/webhooks/twilio/inbound", _inbound("STOP"))
    assert replay.status_code == 200
    state = await api.wait_for(
        loan_id, lambda s: any(r["purpose"] == "reminder-0" for r in s["contact_log"])
    )
    first = next(r for r in state["contact_log"] if r["purpose"] == "reminder-0")
    assert first["channel"] == "sms" and first["outcome"] == "blocked"
    assert api.stand_ins.sms() == []
    history = (await api.get("auditor", f"/v1/cases/{loan_id}/history")).json()["entries"]
    opted = [e for e in history if e["source"] == "case_event" and e["kind"] == "preference"]
    assert len(opted) == 1 and "opted out of sms" in opted[0]["summary"]


async def test_inbound_text_becomes_a_note_and_unknown_sender_is_ignored(
    api: ApiHarness,
) -> None:
    """Other text is an operator note on the sender's open case; no open case → 200, ignored."""
    loan_id = await api.open_case(strategy="slow", borrower=_borrower(api))
    text = _inbound("我下周一还款", sid="SMin0002")
    assert (await api.signed_post("/webhooks/twilio/inbound", text)).status_code == 200
    await api.wait_for(loan_id, lambda s: any("我下周一还款" in n["text"] for n in s["notes"]))
    stranger = _inbound("hello?", sid="SMin0003", sender="+8613700000000")
    response = await api.signed_post("/webhooks/twilio/inbound", stranger)
    assert response.status_code == 200


async def test_status_callbacks_update_the_contact_and_replays_are_harmless(
    api: ApiHarness,
) -> None:
    """ "delivered" goes to the contact ledger only (the case decides nothing on it, and its
    history stays lean); "undelivered" reaches the case too, once however often it is sent;
    a callback without a case id is accepted and ignored."""
    loan_id = await api.open_case(strategy="fast")
    state = await api.wait_for(
        loan_id, lambda s: any(r["provider_sid"] for r in s["contact_log"]), within=60
    )
    sms = next(r for r in state["contact_log"] if r["provider_sid"])
    await _ledger_row(api, loan_id, sms)  # the stand-in sender keeps no ledger; the real one does
    path = f"/webhooks/twilio/status?case_id=case-{loan_id}"
    delivered = {"MessageSid": sms["provider_sid"], "MessageStatus": "delivered", "To": PHONE}
    assert (await api.signed_post(path, delivered)).status_code == 204
    assert await _ledger_status(api, sms["provider_sid"]) == AttemptStatus.DELIVERED
    history = (await api.get("auditor", f"/v1/cases/{loan_id}/history")).json()["entries"]
    assert not [e for e in history if e["source"] == "signal" and e["kind"] == "contact_status"]

    failed = {**delivered, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    for _ in range(2):
        response = await api.signed_post(path, failed)
        assert response.status_code == 204
    await api.wait_for(
        loan_id,
        lambda s: any(
            r["provider_sid"] == sms["provider_sid"] and r["outcome"] == "undelivered"
            for r in s["contact_log"]
        ),
    )
    assert await _ledger_status(api, sms["provider_sid"]) == AttemptStatus.UNDELIVERED
    history = (await api.get("auditor", f"/v1/cases/{loan_id}/history")).json()["entries"]
    signals = [e for e in history if e["source"] == "signal" and e["kind"] == "contact_status"]
    assert len(signals) == 1  # the replay was recognised and not sent again
    ignored = await api.signed_post("/webhooks/twilio/status", delivered)
    assert ignored.status_code == 204


async def _ledger_row(api: ApiHarness, loan_id: str, sms: dict[str, Any]) -> None:
    row = ContactAttempt(
        idempotency_key=sms["key"],
        case_id=f"case-{loan_id}",
        channel=Channel.SMS,
        to_number=PHONE,
        body="reminder",
        status=AttemptStatus.SENT,
        provider_sid=sms["provider_sid"],
    )
    async with api.database.session() as session:
        session.add(row)
        await session.commit()


async def _ledger_status(api: ApiHarness, sid: str) -> AttemptStatus | None:
    async with api.database.session() as session:
        query = select(ContactAttempt).where(ContactAttempt.provider_sid == sid)
        row = (await session.exec(query)).first()
    return None if row is None else row.status


async def test_voice_returns_twiml_with_a_gather_for_the_case(api: ApiHarness) -> None:
    """The voice webhook answers TwiML in the borrower's language, gathering one key."""
    loan_id = await api.open_case(strategy="slow")
    response = await api.signed_post(
        f"/webhooks/twilio/voice?case_id=case-{loan_id}",
        {"CallSid": "CA1", "CallStatus": "in-progress"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert 'numDigits="1"' in response.text
    assert f"/webhooks/twilio/gather?case_id=case-{loan_id}" in response.text
    assert 'language="zh-CN"' in response.text and "按1" in response.text
