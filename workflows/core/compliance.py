"""The compliance gate: every contact asks it first. Pure and deterministic.

Answers send now, defer until T, or block (reason), from the case's contact log and the
strategy's rules. Where the defaults come from: Reg F (8:00-21:00 local, 7 calls in 7 days, no
call within 7 days of a conversation), the TCPA (consent, revocation by any reasonable means) and
the Chinese consumer-loan collection rules (no contact 22:00-08:00, daily call caps); the
defaults take the stricter rule. Rolling windows are measured in strategy days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from models.case import ContactOutcome, ContactRecord
from models.common import Channel
from models.strategy import ComplianceRules
from workflows.core import localtime

# Outcomes that mean a message or call really went out (or may have: unknown counts, to be safe).
ATTEMPTED = frozenset(
    {
        ContactOutcome.SENT,
        ContactOutcome.DELIVERED,
        ContactOutcome.UNDELIVERED,
        ContactOutcome.FAILED,
        ContactOutcome.ANSWERED,
        ContactOutcome.UNANSWERED,
        ContactOutcome.UNKNOWN,
    }
)
MAX_DEFERRAL_STEPS = 32


class Verdict(StrEnum):
    SEND = "send"
    DEFER = "defer"
    BLOCK = "block"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    until: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class ContactContext:
    channel: Channel
    at: datetime
    timezone: str
    rules: ComplianceRules
    day_seconds: int
    log: Sequence[ContactRecord] = ()
    consent: frozenset[Channel] = frozenset({Channel.SMS, Channel.CALL})
    opted_out: frozenset[Channel] = frozenset()
    cease_contact: bool = False
    dispute_open: bool = False
    hardship_until: datetime | None = None
    terminal: bool = False
    # A thank-you or receipt is not collection: it may go to a closed case and during pauses,
    # but still only inside the window and never after an opt-out or cease-contact.
    transactional: bool = False
    notes: list[str] = field(default_factory=list)


def decide(ctx: ContactContext) -> Decision:
    blocked = _blocking_reason(ctx)
    if blocked:
        return Decision(Verdict.BLOCK, reason=blocked)
    at = ctx.at
    reasons: list[str] = []
    for _ in range(MAX_DEFERRAL_STEPS):
        later, why = _earliest_allowed(ctx, at)
        if later is None:
            return Decision(Verdict.BLOCK, reason=f"{why} is set to zero")
        if later <= at:
            break
        at, reasons = later, [*reasons, why]
    else:
        return Decision(Verdict.BLOCK, reason="no allowed time found within the rules")
    if at == ctx.at:
        return Decision(Verdict.SEND)
    return Decision(Verdict.DEFER, until=at, reason="; ".join(dict.fromkeys(reasons)))


def _blocking_reason(ctx: ContactContext) -> str:
    channel = ctx.channel.value
    if ctx.terminal and not ctx.transactional:
        return "the case is closed"
    if ctx.cease_contact:
        return "the borrower asked us to cease contact"
    if ctx.channel not in ctx.consent:
        return f"no consent to contact by {channel}"
    if ctx.channel in ctx.opted_out:
        return f"the borrower opted out of {channel}"
    if ctx.dispute_open and not ctx.transactional:
        return "a dispute is open; contact is paused until it is resolved"
    return ""


def _earliest_allowed(ctx: ContactContext, at: datetime) -> tuple[datetime | None, str]:
    """The earliest instant >= ``at`` that the first failing rule allows, and that rule."""
    rules = ctx.rules
    if ctx.hardship_until and at < ctx.hardship_until and not ctx.transactional:
        return ctx.hardship_until, "hardship pause"
    if ctx.transactional:
        return _window_opening(ctx, at)  # receipts are not collection: no frequency caps
    day = timedelta(seconds=ctx.day_seconds)
    attempts = [r for r in ctx.log if r.channel is ctx.channel and r.outcome in ATTEMPTED]
    if ctx.channel is Channel.SMS:
        for limit, span, name in (
            (rules.max_sms_day, day, "SMS daily cap"),
            (rules.max_sms_7d, 7 * day, "SMS 7-day cap"),
        ):
            free = _free_at(attempts, at, span, limit)
            if free is None or free > at:
                return free, name
    else:
        connected = [r for r in attempts if r.connected]
        unanswered = [r for r in attempts if not r.connected]
        quiet = timedelta(seconds=ctx.day_seconds * rules.call_quiet_days_after_conversation)
        recent = [r.at + quiet for r in connected if r.at <= at < r.at + quiet]
        if recent:
            return max(recent), "no call within 7 days of a conversation"
        for records, limit, span, name in (
            (attempts, rules.max_call_attempts_7d, 7 * day, "7 calls in 7 days"),
            (connected, rules.max_connected_calls_day, day, "connected calls daily cap"),
            (unanswered, rules.max_unanswered_calls_day, day, "unanswered calls daily cap"),
        ):
            free = _free_at(records, at, span, limit)
            if free is None or free > at:
                return free, name
    return _window_opening(ctx, at)


def _window_opening(ctx: ContactContext, at: datetime) -> tuple[datetime | None, str]:
    start, end = ctx.rules.window_start, ctx.rules.window_end
    opens = localtime.next_window_open(at, ctx.timezone, start, end)
    if opens > at:
        return opens, "outside the borrower's contact hours"
    return at, ""


def _free_at(
    records: Sequence[ContactRecord], at: datetime, span: timedelta, limit: int
) -> datetime | None:
    """When a rolling ``span`` ending at the send time holds fewer than ``limit`` records.

    None when the limit is zero: that channel may never be used under these rules.
    """
    if limit <= 0:
        return None
    in_window = sorted(r.at for r in records if at - span < r.at <= at)
    if len(in_window) < limit:
        return at
    # Allowed once enough of the oldest records have left the window (r.at <= t - span).
    return in_window[len(in_window) - limit] + span
