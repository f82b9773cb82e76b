"""Reconciliation of interrupted contact attempts against Twilio's own list (issue 16 item 6).

The real activities, the real twilio SDK and the sandbox's ``GET Messages.json``/``Calls.json``;
SQLite and PostgreSQL ledgers. A crash is a ledger that raises where the worker would die.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.case_activities import CaseActivities
from activities.contacts import Claim, ContactLedger
from activities.db import Database
from activities.exactly_once import (
    ERROR_PROVIDER_UNAVAILABLE,
    ERROR_PROVIDER_UNSETTLED,
)
from activities.reconcile import sweep
from models import activities as act
from models import case as c
from models import tables as t
from models.common import Channel
from models.tables import utc_now
from tests import test_activities as base
from tests.test_activities import (
    CALL_TEXT,
    PHONE,
    SMS_TEXT,
    CrashAfterProviderCall,
    attempts,
    new_case_id,
    outbox,
    run,
    run_until_settled,
    sms,
)

NEW_PHONE = "+8613900139077"  # the number the borrower gave after the first attempt
# The activities, sandbox and webhook receiver of test_activities (pytest finds them by name).
hooks = base.hooks
sandbox_url = base.sandbox_url
control = base.control
acts = base.acts

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)


class CrashAfterRecording(ContactLedger):
    """The worker dies once right after the ``recorded`` row is written, before Twilio."""

    crashed = False

    async def claim(
        self,
        *,
        key: str,
        case_id: str,
        channel: Channel,
        to: str,
        body: str,
        body_sha256: str | None = None,
        to_sealed: str | None = None,
        borrower_id: str | None = None,
    ) -> Claim:
        claim = await super().claim(
            key=key, case_id=case_id, channel=channel, to=to, body=body,
            body_sha256=body_sha256, to_sealed=to_sealed, borrower_id=borrower_id,
        )  # fmt: skip
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("worker killed after recording the attempt")
        return claim


async def test_recorded_attempt_never_sent_is_sent_once_after_it_settles(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Recorded, then killed before Twilio: until the attempt has settled Twilio's empty list
    is not trusted (retryable); then it is sent once, and later retries send nothing."""
    acts.ledger = CrashAfterRecording(database)
    case_id = new_case_id()
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(case_id))
    with pytest.raises(ApplicationError) as early:
        await run(acts.send_sms, sms(case_id))
    assert early.value.type == ERROR_PROVIDER_UNSETTLED
    assert (await outbox(control))["messages"] == []
    await asyncio.sleep(1.1)  # the test settings' twilio_reconcile_settle_seconds
    sent = await run(acts.send_sms, sms(case_id))
    (message,) = (await outbox(control))["messages"]
    assert (sent.outcome, sent.provider_sid) == (c.ContactOutcome.SENT, message["sid"])
    assert (await run(acts.send_sms, sms(case_id))).provider_sid == message["sid"]
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
    assert len((await outbox(control))["messages"]) == 1


async def test_unknown_attempt_is_not_resent_while_twilio_cannot_be_asked(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """An ``unknown`` attempt is never resent blindly: while Twilio's list answers 5xx nothing
    is sent and it stays unknown; only once Twilio's settled record shows no send is it sent,
    once."""
    case_id = new_case_id()
    claim = await acts.ledger.claim(
        key=f"{case_id}/reminder-0", case_id=case_id, channel=Channel.SMS, to=PHONE, body=SMS_TEXT
    )
    assert claim.attempt_id is not None
    await acts.ledger.mark_unknown(claim.attempt_id, "outcome unknown: no answer from Twilio")
    await asyncio.sleep(1.1)  # settled: only Twilio's answer is missing
    await control.post("/sandbox/faults", json={"fail_next": 3, "status": 503})
    for _ in range(3):
        with pytest.raises(ApplicationError) as refused:
            await run(acts.send_sms, sms(case_id))
        assert refused.value.type == ERROR_PROVIDER_UNAVAILABLE
    assert (await outbox(control))["messages"] == []
    (row,) = await attempts(database, case_id)
    assert row.status is t.AttemptStatus.UNKNOWN
    sent = await run(acts.send_sms, sms(case_id))
    (message,) = (await outbox(control))["messages"]
    assert (sent.outcome, sent.provider_sid) == (c.ContactOutcome.SENT, message["sid"])
    assert (await run(acts.send_sms, sms(case_id))).provider_sid == message["sid"]
    assert len((await outbox(control))["messages"]) == 1


async def test_two_matching_records_are_ambiguous_and_nothing_is_guessed_or_resent(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Twilio lists two unclaimed sends of the same text to the number since the attempt was
    recorded: the attempt answers UNKNOWN, keeps no sid, and nothing more is sent."""
    acts.ledger = CrashAfterRecording(database)
    case_id = new_case_id()
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(case_id))
    for _ in range(2):  # sent outside the ledger, e.g. by another system on the same account
        await acts.messenger.send_sms(PHONE, SMS_TEXT)
    await asyncio.sleep(0.2)  # both have a DateSent
    result = await run_until_settled(acts.send_sms, sms(case_id))
    assert result.outcome is c.ContactOutcome.UNKNOWN
    assert "2 unclaimed sends" in (result.reason or "")
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.UNKNOWN, None)
    assert len((await outbox(control))["messages"]) == 2


async def test_a_send_another_key_holds_is_not_taken_for_this_attempt(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """The same text went to the same number under another key (its sid is in the ledger):
    that record is not this attempt's, so the crashed attempt is sent once of its own."""
    case_id = new_case_id()
    other = await run(acts.send_sms, sms(case_id, step="reminder-0"))
    acts.ledger = CrashAfterRecording(database)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(case_id, step="reminder-1"))
    await asyncio.sleep(1.1)
    own = await run_until_settled(acts.send_sms, sms(case_id, step="reminder-1"))
    assert own.outcome is c.ContactOutcome.SENT and own.provider_sid != other.provider_sid
    sids = [m["sid"] for m in (await outbox(control))["messages"]]
    assert sorted(sids) == sorted([other.provider_sid, own.provider_sid])


async def test_crashed_call_is_reconciled_by_start_time(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Calls are looked up by ``To`` and ``StartTime>``: a call Twilio placed before the worker
    died is found and not placed again."""
    acts.ledger = CrashAfterProviderCall(database)
    case_id = new_case_id()
    call = act.PlaceCallInput(
        key=f"{case_id}/call-0",
        case_id=case_id,
        loan_id=case_id.removeprefix("case-"),
        to=PHONE,
        message=CALL_TEXT,
        purpose="call-0",
        locale="zh-CN",
    )
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.place_call, call)
    await asyncio.sleep(0.2)  # dialled: it has a start_time
    found = await run_until_settled(acts.place_call, call)
    (placed,) = (await outbox(control))["calls"]
    assert (found.outcome, found.provider_sid) == (c.ContactOutcome.SENT, placed["sid"])
    assert len((await outbox(control))["calls"]) == 1


async def test_the_sweep_records_an_abandoned_send_and_never_sends(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """The case moved on while a crashed send waited for its retry: the worker's sweep finds
    the message in Twilio's list and records its sid; an abandoned attempt Twilio never got is
    marked unknown; the sweep itself sends nothing, and rows still in flight are left alone."""
    acts.ledger = CrashAfterProviderCall(database)
    delivered, missing = new_case_id(), new_case_id()
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(delivered))
    acts.ledger = CrashAfterRecording(database)
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(missing, body="another text"))
    await asyncio.sleep(0.3)
    (message,) = (await outbox(control))["messages"]
    in_flight = await sweep(acts.messenger, acts.ledger, utc_now(), 0.0, quiet_seconds=60)
    assert not in_flight  # touched less than a minute ago: an attempt may still own them
    later = utc_now() + timedelta(minutes=5)
    tally = await sweep(acts.messenger, acts.ledger, later, 0.0, quiet_seconds=60)
    assert tally["sent"] >= 1 and tally["not_sent"] >= 1, tally
    (found,) = await attempts(database, delivered)
    assert (found.status, found.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
    (gone,) = await attempts(database, missing)
    assert (gone.status, gone.provider_sid) == (t.AttemptStatus.UNKNOWN, None)
    assert len((await outbox(control))["messages"]) == 1


async def test_a_retry_after_the_phone_changed_finds_the_send_to_the_old_number(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Chaos seed 20: a send Twilio accepted, the worker killed before the ledger heard, the
    borrower's phone changed, and the retry (same key) carries the new number. Twilio is asked
    about the number the attempt went to, finds the message, and nothing goes to the new one."""
    acts.ledger = CrashAfterProviderCall(database)
    case_id = new_case_id()
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(case_id))
    acts.ledger = ContactLedger(database)
    await asyncio.sleep(1.1)  # the test settings' twilio_reconcile_settle_seconds
    moved = sms(case_id).model_copy(update={"to": NEW_PHONE})
    result = await run_until_settled(acts.send_sms, moved)
    (message,) = (await outbox(control))["messages"]
    assert message["to"] == PHONE
    assert (result.outcome, result.provider_sid) == (c.ContactOutcome.SENT, message["sid"])
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
