"""A retry that renders the same key with another text (chaos seed 33, issue 16 item 6).

A workflow task that times out loses the local activities it ran: the send went out, but the
case re-runs later and sends the same key again with the figures of that later moment. Twilio
is asked about the text the earlier attempt *sent* (the ledger row's body, or its hash when
sealed), not the text in hand, so the send is found and nothing goes out twice; a send that
never left carries the new text, and the row then holds that text.

The real activities, the real twilio SDK and the sandbox; SQLite and PostgreSQL ledgers.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import httpx
import pytest
from sqlmodel import select

from activities.case_activities import CaseActivities
from activities.contacts import ContactLedger
from activities.db import Database
from activities.vault.outgoing import open_ledger_body
from models import activities as act
from models import case as c
from models import tables as t
from tests import test_activities as base
from tests.test_activities import (
    CrashAfterProviderCall,
    attempts,
    new_case_id,
    outbox,
    run,
    run_until_settled,
    sms,
)
from tests.test_reconcile import CrashAfterRecording
from tests.test_vault_activities import NAME, _vaulted_case

# The activities, sandbox and webhook receiver of test_activities (pytest finds them by name).
hooks = base.hooks
sandbox_url = base.sandbox_url
control = base.control
acts = base.acts

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)
FIRST = "{name}您好，您的欠款为 1,200.00 元，已逾期 31 天。"
LATER = "{name}您好，您的欠款为 1,200.00 元，已逾期 56 天。"


async def _vaulted(acts: CaseActivities, database: Database) -> tuple[c.CaseInput, str, str]:
    """A sealed borrower with a number of its own: no other test's send can match."""
    own = f"+86136{uuid.uuid4().int % 10**8:08d}"
    inp, case_id = await _vaulted_case(acts, database, phone=own)
    return inp, case_id, own


def _sms(inp: c.CaseInput, case_id: str, body: str) -> act.SendSmsInput:
    return act.SendSmsInput(
        key=f"{case_id}/g1/reminder-4",
        case_id=case_id,
        loan_id=inp.loan.loan_id,
        to=inp.borrower.phone_ref,
        body=body,
        purpose="reminder-4",
        locale="zh-CN",
        borrower_id=inp.borrower.id,
        template="firm_notice",
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _row(database: Database, case_id: str) -> t.ContactAttempt:
    async with database.session() as session:
        [row] = (
            await session.exec(select(t.ContactAttempt).where(t.ContactAttempt.case_id == case_id))
        ).all()
    return row


async def test_a_rerendered_retry_finds_the_sealed_send_by_what_it_sent(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Sent, killed before the record, re-run with other figures: Twilio's message is found by
    the row's hash of the first text; the case gets that hash; nothing is sent again."""
    inp, case_id, phone = await _vaulted(acts, database)
    acts.ledger = CrashAfterProviderCall(database, acts.vault)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, _sms(inp, case_id, FIRST))
    acts.ledger = ContactLedger(database, acts.vault)
    await asyncio.sleep(1.1)  # the test settings' twilio_reconcile_settle_seconds
    result = await run_until_settled(acts.send_sms, _sms(inp, case_id, LATER))
    [message] = [m for m in (await outbox(control))["messages"] if m["to"] == phone]
    assert message["body"] == FIRST.replace("{name}", NAME)
    assert (result.outcome, result.provider_sid) == (c.ContactOutcome.SENT, message["sid"])
    assert result.text_sha256 == _sha(message["body"])
    row = await _row(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
    again = await run(acts.send_sms, _sms(inp, case_id, LATER))  # answered from the ledger
    assert (again.provider_sid, again.text_sha256) == (message["sid"], _sha(message["body"]))


async def test_a_send_that_never_left_goes_out_with_the_new_text_and_the_row_holds_it(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Recorded, killed before Twilio, re-run with other figures: once settled it is sent once,
    with the new text, and the row's sealed body and hash are that text's."""
    inp, case_id, phone = await _vaulted(acts, database)
    acts.ledger = CrashAfterRecording(database, acts.vault)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, _sms(inp, case_id, FIRST))
    await asyncio.sleep(1.1)
    result = await run_until_settled(acts.send_sms, _sms(inp, case_id, LATER))
    [message] = [m for m in (await outbox(control))["messages"] if m["to"] == phone]
    sent = LATER.replace("{name}", NAME)
    assert message["body"] == sent and result.provider_sid == message["sid"]
    assert result.text_sha256 == _sha(sent)
    row = await _row(database, case_id)
    assert row.body_sha256 == _sha(sent)
    async with database.session() as session:
        dek = await acts.vault.data_key(session, inp.borrower.id, create=False)
    assert dek is not None and open_ledger_body(dek, row.body, row.idempotency_key) == sent


async def test_an_unsealed_rerendered_retry_is_matched_on_the_row_text(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """A case from before the vault keeps the text in clear on the row: the same holds."""
    acts.ledger = CrashAfterProviderCall(database)
    case_id = new_case_id()
    first = sms(case_id)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, first)
    acts.ledger = ContactLedger(database)
    await asyncio.sleep(1.1)
    later = first.model_copy(update={"body": first.body + " (56)"})
    result = await run_until_settled(acts.send_sms, later)
    sent = [m for m in (await outbox(control))["messages"] if m["body"] == first.body]
    assert [m for m in (await outbox(control))["messages"] if m["body"] == later.body] == []
    assert result.provider_sid in {m["sid"] for m in sent}
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, result.provider_sid)
