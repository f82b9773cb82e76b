"""The real activities with the vault (DESIGN §10), on SQLite and PostgreSQL and the Twilio
sandbox: a case input without personal data is sent to the number the vault holds with the
name filled in, the ledger keeps the text sealed with its hash, the case gets the hash; a
number on the do-not-contact register is not contacted; the legal file reads the details from
SQL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError

from activities.case_activities import CaseActivities
from activities.db import Database
from activities.reconcile import sweep
from activities.vault import dnc
from activities.vault.erase import erase_borrower
from activities.vault.outgoing import open_ledger_body, open_ledger_to
from api import vaulting
from models import activities as act
from models import case as c
from models import tables as t
from models.common import Actor, Channel, Role, case_id_for
from models.tables import utc_now
from tests import factories
from tests import test_activities as base
from tests.test_activities import PHONE, CrashAfterProviderCall, outbox, run, seed_case

# The activities, sandbox and webhook receiver of test_activities (pytest finds them by name).
hooks = base.hooks
sandbox_url = base.sandbox_url
control = base.control
acts = base.acts

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)
NAME = "周保密"


async def _vaulted_case(
    acts: CaseActivities, database: Database, phone: str = PHONE
) -> tuple[c.CaseInput, str]:
    """A case whose borrower's details are sealed, its input as the API builds it."""
    inp = factories.case_input(the_borrower=factories.borrower(name=NAME, phone=phone))
    await seed_case(database, inp)
    await acts.vault.store(inp.borrower)
    borrower = vaulting.case_borrower(inp.borrower, acts.vault)
    return inp.model_copy(update={"borrower": borrower}), case_id_for(inp.loan.loan_id)


async def _once_sent(control: httpx.AsyncClient) -> dict[str, str]:
    """The outbox's one message once the sandbox has sent it: Twilio lists a message by its
    DateSent, which a queued one does not have yet (on a loaded machine that takes a while)."""
    for _ in range(100):
        [message] = (await outbox(control))["messages"]
        if message.get("date_sent"):
            return dict(message)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the sandbox never sent {message['sid']}")


def _sms(inp: c.CaseInput, case_id: str) -> act.SendSmsInput:
    return act.SendSmsInput(
        key=f"{case_id}/g1/reminder-0",
        case_id=case_id,
        loan_id=inp.loan.loan_id,
        to=inp.borrower.phone_ref,
        body="{name}您好，您有一笔款项已逾期。",
        purpose="reminder-0",
        locale="zh-CN",
        borrower_id=inp.borrower.id,
        template="friendly_notice",
    )


async def test_send_resolves_the_vault_seals_the_ledger_and_returns_the_hash(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    inp, case_id = await _vaulted_case(acts, database)
    result = await run(acts.send_sms, _sms(inp, case_id))
    assert result.outcome is c.ContactOutcome.SENT
    [message] = (await outbox(control))["messages"]
    assert message["to"] == PHONE and message["body"] == f"{NAME}您好，您有一笔款项已逾期。"
    assert result.text_sha256 == hashlib.sha256(message["body"].encode()).hexdigest()
    async with database.session() as session:
        [row] = (
            await session.exec(select(t.ContactAttempt).where(t.ContactAttempt.case_id == case_id))
        ).all()
        dek = await acts.vault.data_key(session, inp.borrower.id, create=False)
    assert NAME not in row.body and row.body_sha256 == result.text_sha256
    assert dek is not None
    assert open_ledger_body(dek, row.body, row.idempotency_key) == message["body"]
    # The number is sealed too: the row holds no phone in clear.
    assert row.to_number == "" and row.to_sealed and PHONE not in row.to_sealed
    assert row.borrower_id == inp.borrower.id
    assert open_ledger_to(dek, row.to_sealed, row.idempotency_key) == PHONE
    again = await run(acts.send_sms, _sms(inp, case_id))  # a retry: answered from the ledger
    assert (again.provider_sid, again.text_sha256) == (result.provider_sid, result.text_sha256)
    assert len((await outbox(control))["messages"]) == 1


async def test_the_sweep_opens_a_sealed_number_to_reconcile(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """A vaulted send killed after Twilio accepted it, abandoned by its case: the sweep opens
    the sealed number, finds the message in Twilio's list by it and records the sid; after
    erasure the number is gone from the row as well.

    The sweep takes every stale row of the database, and other tests leave some to the number
    they share: this borrower has a number of its own, so only this row can match the message,
    and the assertions are on this row, not on the sweep's tally of all of them."""
    own = f"+86137{uuid.uuid4().int % 10**8:08d}"
    inp, case_id = await _vaulted_case(acts, database, phone=own)
    vault = acts.vault  # built first: the crashing ledger gets it as the real one does
    acts.ledger = CrashAfterProviderCall(database, vault)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, _sms(inp, case_id))
    message = await _once_sent(control)
    later = utc_now() + timedelta(minutes=5)
    tally = await sweep(acts.messenger, acts.ledger, later, 0.0, quiet_seconds=60)
    assert tally["sent"] >= 1, tally
    async with database.session() as session:
        [row] = (
            await session.exec(select(t.ContactAttempt).where(t.ContactAttempt.case_id == case_id))
        ).all()
    assert (row.status, row.provider_sid, row.to_number) == (
        t.AttemptStatus.SENT,
        message["sid"],
        "",
    )
    await erase_borrower(vault, inp.borrower.id, "dpo-1")
    async with database.session() as session:
        erased = await session.get(t.ContactAttempt, row.id, populate_existing=True)
    assert erased is not None and erased.to_sealed is None and erased.to_number == ""


async def test_a_registered_number_is_not_contacted(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    inp, case_id = await _vaulted_case(acts, database)
    await dnc.register(database, acts.vault.phone_hmac(PHONE), [Channel.SMS], "STOP", "test")
    try:
        result = await run(acts.send_sms, _sms(inp, case_id))
    finally:
        await dnc.forget(database, acts.vault.phone_hmac(PHONE), Channel.SMS)
    assert result.outcome is c.ContactOutcome.BLOCKED and "do-not-contact" in result.reason
    assert (await outbox(control))["messages"] == []


async def test_legal_file_reads_the_borrower_from_sql(
    acts: CaseActivities, database: Database
) -> None:
    inp, case_id = await _vaulted_case(acts, database)
    handoff = act.LegalHandoffInput(
        case_id=case_id,
        loan=inp.loan,
        borrower=inp.borrower,
        balance=Decimal("100.00"),
        days_past_due=90,
        approved_by=Actor(id="sup-1", role=Role.SUPERVISOR),
    )
    assert inp.borrower.name == "" and inp.borrower.phone == ""
    await run(acts.hand_off_to_legal, handoff)
    async with database.session() as session:
        [row] = (
            await session.exec(select(t.LegalOutbox).where(t.LegalOutbox.case_id == case_id))
        ).all()
    assert (row.payload["borrower"]["name"], row.payload["borrower"]["phone"]) == (NAME, PHONE)


async def test_a_provider_unsubscribed_answer_goes_on_the_register(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Twilio's 21610 (the number sent STOP to our sender): the SMS is rejected and the number
    goes on the register, so no later case texts it either."""
    inp, case_id = await _vaulted_case(acts, database)
    await control.post("/sandbox/faults", json={"unsubscribed_numbers": [PHONE]})
    try:
        with pytest.raises(ApplicationError) as rejected:
            await run(acts.send_sms, _sms(inp, case_id))
        fingerprint = acts.vault.phone_hmac(PHONE)
        assert rejected.value.type == act.ERROR_CONTACT_REJECTED
        assert Channel.SMS in await dnc.entries(database, fingerprint)
    finally:
        await dnc.forget(database, acts.vault.phone_hmac(PHONE), Channel.SMS)
