"""The API's side of the vault (DESIGN §10) on the dev server: the case's input carries no
personal data, STOP by phone (no ``?case_id=``) finds the case through the phone's HMAC, and
the do-not-contact register outlives the case: a new case for the number opens opted out."""

from __future__ import annotations

import uuid

from activities.vault import dnc
from api import vaulting
from audit.timeline import fetch_case_histories
from models import case as c
from models.common import Channel
from tests.api.conftest import ApiHarness
from tests.pii_search import found_in, history_text, needles


def _phone() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


async def test_the_case_input_holds_no_name_phone_or_address(api: ApiHarness) -> None:
    """The workflow's input has the borrower id and a fingerprint; the message still reaches
    the number with the name in it (filled in by the send activity from the vault)."""
    phone = _phone()
    event = api.overdue_event(strategy="sms-first")
    event["borrower"] |= {"phone": phone, "name": "孙保密"}
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    loan_id = event["loan_id"]
    await api.wait_for(loan_id, lambda s: any(r["provider_sid"] for r in s["contact_log"]))
    handle = api.client.get_workflow_handle(f"case-{loan_id}")
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [inp] = await api.client.data_converter.decode(started.input.payloads, [c.CaseInput])
    borrower = inp.borrower
    assert (borrower.name, borrower.phone, borrower.address, borrower.birth_year) == (
        "",
        "",
        "",
        None,
    )
    vault = vaulting.vault_for(api.database, api.settings)
    assert borrower.phone_ref == vault.phone_hmac(phone)
    [sent] = [s for s in api.stand_ins.sent if s.key.startswith(f"case-{loan_id}/")]
    assert sent.to == phone and "孙保密" in sent.text


async def test_stop_by_phone_finds_the_case_and_the_register_outlives_it(api: ApiHarness) -> None:
    """Inbound STOP from the borrower's number, no case id: the case opts out of SMS (found by
    the HMAC of the number); the register holds it, so another loan's case for the same number
    opens opted out of SMS; START takes it off the register."""
    phone = _phone()
    event = api.overdue_event(strategy="slow")
    event["borrower"]["phone"] = phone
    assert (await api.post("system", "/v1/overdue-events", event)).status_code == 202
    loan_id = event["loan_id"]
    await api.wait_for(loan_id, lambda s: s["event_seq"] >= 1)

    stop = {"MessageSid": f"SMin{uuid.uuid4().hex[:8]}", "From": phone, "Body": "STOP"}
    assert (await api.signed_post("/webhooks/twilio/inbound", stop)).status_code == 200
    await api.wait_for(loan_id, lambda s: s["opted_out"] == ["sms"])
    vault = vaulting.vault_for(api.database, api.settings)
    assert Channel.SMS in await dnc.entries(api.database, vault.phone_hmac(phone))

    second = api.overdue_event(strategy="slow")
    second["borrower"]["phone"] = phone  # another borrower record, the same number
    assert (await api.post("system", "/v1/overdue-events", second)).status_code == 202
    state = await api.wait_for(second["loan_id"], lambda s: s["event_seq"] >= 1)
    assert state["opted_out"] == ["sms"]

    start = {"MessageSid": f"SMin{uuid.uuid4().hex[:8]}", "From": phone, "Body": "START"}
    assert (await api.signed_post("/webhooks/twilio/inbound", start)).status_code == 200
    assert Channel.SMS not in await dnc.entries(api.database, vault.phone_hmac(phone))


async def test_free_text_is_sealed_and_opened_for_the_reader(api: ApiHarness) -> None:
    """A note reaches the case as a reference; the case view and the timeline open it."""
    loan_id = await api.open_case(strategy="slow")
    await api.wait_for(loan_id, lambda s: s["event_seq"] >= 1)
    note = {"text": "她说下周一还款"}
    answer = await api.post("operator", f"/v1/cases/{loan_id}/notes", note)
    assert answer.status_code == 200, answer.text
    assert [n["text"] for n in answer.json()["notes"]] == ["她说下周一还款"]
    histories = await fetch_case_histories(api.client, f"case-{loan_id}")  # codec-decoded
    text = "\n".join(history_text(h) for h in histories)
    assert "text:" in text and found_in(text, needles(note["text"])) == []
    entries = (await api.get("auditor", f"/v1/cases/{loan_id}/history")).json()["entries"]
    assert any(e["kind"] == "add_note" and e["details"]["text"] == note["text"] for e in entries)
