"""What Twilio's own record says an interrupted attempt sent (DESIGN §6, issue 16 item 6).

An attempt left ``recorded`` (the worker died before Twilio answered, or before the sid was
written) or ``unknown`` (the answer timed out) is looked up in Twilio's lists before anything is
resent or counted: ``messages.list`` and ``calls.list`` by ``To``, newest first, kept from the
attempt's creation on. Not by ``DateSent>`` or ``StartTime>``: those leave out a send still
queued, which then read as never sent (chaos seed 29: one borrower got a reminder twice).

Twilio's Message and Call resources carry no field of ours (no metadata, and the StatusCallback
URL that carries the ledger key is not returned by the list), so a record is matched on what
Twilio does keep: the recipient, a creation time at or after the attempt was recorded, the exact
text for an SMS, and a sid no other ledger row holds. More than one such record is ambiguous and
nothing is guessed: the attempt stays ``unknown`` and is not resent. No record is only taken as
"never sent" once the attempt has settled (``twilio_reconcile_settle_seconds``: a request still
on its way may not have reached Twilio yet); before that the look-up is retried.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from activities.contacts import ContactLedger, Pending
from activities.twilio_client import ProviderRecord, TwilioMessenger
from models.common import Channel

# Twilio dates have whole seconds, and its clock is not ours.
CLOCK_SLACK = timedelta(seconds=30)


class Verdict(StrEnum):
    SENT = "sent"  # Twilio holds exactly one matching record
    AMBIGUOUS = "ambiguous"  # more than one: not guessed, not resent
    UNSETTLED = "unsettled"  # none yet, but Twilio may still list it: look again later
    NOT_SENT = "not_sent"  # none, and the attempt has settled: it may be sent once


@dataclass(frozen=True)
class Reconciliation:
    verdict: Verdict
    sid: str | None = None
    candidates: int = 0

    @property
    def reason(self) -> str:
        if self.verdict is Verdict.AMBIGUOUS:
            return (
                f"outcome unknown: Twilio lists {self.candidates} unclaimed sends that could be "
                "this attempt; none is guessed and it is not resent"
            )
        return f"reconciled with Twilio's record: {self.verdict.value}"


async def provider_records(messenger: TwilioMessenger, pending: Pending) -> list[ProviderRecord]:
    since = pending.created_at - CLOCK_SLACK
    if pending.channel is Channel.SMS:
        return await messenger.recent_messages(pending.to, since)
    return await messenger.recent_calls(pending.to, since)


def candidates(
    pending: Pending, records: list[ProviderRecord], held: set[str]
) -> list[ProviderRecord]:
    """Records that can only be this attempt's send: same number, not before the attempt was
    recorded, same text (SMS), and not already some ledger row's sid."""
    floor = pending.created_at.replace(microsecond=0) - CLOCK_SLACK
    return [
        r
        for r in records
        if r.to == pending.to
        and r.created >= floor
        and r.sid not in held
        and (pending.channel is Channel.CALL or pending.same_text(r.body or ""))
    ]


def judge(
    pending: Pending, found: list[ProviderRecord], now: datetime, settle_seconds: float
) -> Reconciliation:
    if len(found) == 1:
        return Reconciliation(Verdict.SENT, sid=found[0].sid, candidates=1)
    if len(found) > 1:
        return Reconciliation(Verdict.AMBIGUOUS, candidates=len(found))
    # The latest attempt on the row (a take-over resets updated_at) must have settled.
    if now - pending.updated_at < timedelta(seconds=settle_seconds):
        return Reconciliation(Verdict.UNSETTLED)
    return Reconciliation(Verdict.NOT_SENT)


async def reconcile(
    messenger: TwilioMessenger,
    ledger: ContactLedger,
    pending: Pending,
    now: datetime,
    settle_seconds: float,
) -> Reconciliation:
    """Look the attempt up at Twilio; a single match is written to the ledger as sent.

    Raises ``TransientProviderError`` when Twilio cannot be asked: then nothing is resent.
    """
    records = await provider_records(messenger, pending)
    held = await ledger.held_sids([r.sid for r in records])
    verdict = judge(pending, candidates(pending, records, held), now, settle_seconds)
    if verdict.verdict is Verdict.SENT and verdict.sid is not None:
        await ledger.record_reconciled(pending.attempt_id, verdict.sid)
    elif verdict.verdict is Verdict.AMBIGUOUS:
        await ledger.mark_unknown(pending.attempt_id, verdict.reason)
    return verdict


SWEPT_NOT_FOUND = (
    "outcome unknown: Twilio's settled record holds no send for this attempt; not resent "
    "here (a retry of the send, if the case still wants it, reconciles again)"
)


async def sweep(
    messenger: TwilioMessenger,
    ledger: ContactLedger,
    now: datetime,
    settle_seconds: float,
    quiet_seconds: float,
) -> Counter[str]:
    """Reconcile every attempt a crash left pending that no activity will come back for (the
    case moved on while the send waited for its retry): a send Twilio holds is recorded as
    sent with its sid, so the ledger says what the borrower received. Never sends anything.

    ``quiet_seconds``: how long a row must be untouched, longer than any running attempt's
    send and look-up, so an attempt in flight is never judged from the outside.
    """
    tally: Counter[str] = Counter()
    for pending in await ledger.stale_pending(now - timedelta(seconds=quiet_seconds)):
        verdict = await reconcile(messenger, ledger, pending, now, settle_seconds)
        if verdict.verdict is Verdict.NOT_SENT and pending.status.value != "unknown":
            await ledger.mark_unknown(pending.attempt_id, SWEPT_NOT_FOUND)
        tally[verdict.verdict.value] += 1
    return tally
