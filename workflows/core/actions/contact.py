"""Contact the borrower made or the operator logged: manual calls (counted by the caps), notes,
channel preferences, inbound messages, key presses and the provider's delivery statuses."""

from __future__ import annotations

import re
from datetime import datetime

from models import case as c
from models.actions import ActionName
from models.common import Actor, Channel, Stage, classify_inbound
from workflows.core import compliance
from workflows.core.actions.base import ActionDef
from workflows.core.actions.negotiation import check_promise, promise_days
from workflows.core.actions.visit import book
from workflows.core.case import Case
from workflows.core.refusal import Refusal
from workflows.core.state import Note

M = c.ManualContactOutcome
CONNECTED = frozenset({M.RIGHT_PARTY, M.PROMISE, M.REFUSED, M.CALLBACK})


class ManualContact(ActionDef[c.ManualContactInput]):
    """An operator's call. The gate must have allowed it: a call the rules forbid is refused,
    so the caps hold for people as they do for the machine."""

    name = ActionName.MANUAL_CONTACT

    def check(self, case: Case, inp: c.ManualContactInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        at = inp.at or now
        if at > now:
            raise Refusal("in_past", at=at.isoformat())
        decision = case.gate(inp.channel, at)
        if decision.verdict is not compliance.Verdict.SEND:
            why = decision.reason or "not allowed"
            raise Refusal("gate", channel=inp.channel.value, at=at.isoformat(), why=why)
        if inp.promise is not None:
            check_promise(case, inp.promise, now)

    def run(self, case: Case, inp: c.ManualContactInput, actor: Actor, now: datetime) -> None:
        connected = inp.outcome in CONNECTED
        case.log_manual(inp.channel, connected, inp.at or now, actor, inp.outcome.value)
        if inp.outcome is M.WRONG_PARTY:
            case.alert("wrong_party", "A logged call reached someone else: check the number.", now)
        if inp.promise is not None:
            days = promise_days(case, inp.promise, now)
            case.add_promise(inp.promise.amount, days, "promise", actor, now)
            if case.s.stage is not Stage.FOLLOW_UP:
                case.enter(Stage.FOLLOW_UP, "promise to pay on a logged call", now, actor)


class AddNote(ActionDef[c.NoteInput]):
    name = ActionName.NOTE

    def run(self, case: Case, inp: c.NoteInput, actor: Actor, now: datetime) -> None:
        case.s.notes.append(Note(at=now, actor=actor, text=inp.text))
        case.event("note", inp.text, now, actor)


class ChannelPreference(ActionDef[c.ChannelPreference]):
    name = ActionName.CHANNEL_PREFERENCE

    def check(self, case: Case, inp: c.ChannelPreference, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        rules = case.strategy.compliance
        start, end = inp.hours_start, inp.hours_end
        if start and end and not (rules.window_start <= start and end <= rules.window_end):
            raise Refusal(
                "preferred_hours",
                start=start.strftime("%H:%M"),
                end=end.strftime("%H:%M"),
                window_start=rules.window_start.strftime("%H:%M"),
                window_end=rules.window_end.strftime("%H:%M"),
            )

    def run(self, case: Case, inp: c.ChannelPreference, actor: Actor, now: datetime) -> None:
        if inp.opted_out is not None:
            case.set_opt_out(inp.channel, inp.opted_out, inp.source, now, actor)
        if inp.hours_start and inp.hours_end:
            case.s.hours_start, case.s.hours_end = inp.hours_start, inp.hours_end
            hours = f"{inp.hours_start.strftime('%H:%M')}-{inp.hours_end.strftime('%H:%M')}"
            case.event("preference", f"borrower prefers contact {hours}", now, actor)


class InboundMessage(ActionDef[c.InboundMessage]):
    name = ActionName.INBOUND_MESSAGE

    def run(self, case: Case, inp: c.InboundMessage, actor: Actor, now: datetime) -> None:
        if not case.first_delivery(inp.provider_sid):
            return
        kind = classify_inbound(inp.text)
        if kind in ("opt_out", "opt_in"):
            case.set_opt_out(Channel.SMS, kind == "opt_out", "replied by SMS", now)
        elif (slot := _slot_reply(case, inp.text, now)) is not None:
            visit = case.current_visit()
            if visit is not None:
                book(case, visit, slot, actor, now)
        else:
            case.s.notes.append(Note(at=now, actor=actor, text=f"borrower wrote: {inp.text}"))
            # The text is for the worklist and the case page (the read model holds it).
            case.event("note", f"borrower wrote: {inp.text}", now, actor, sid=inp.provider_sid)


# "V2" or "拜访2" accepts the second offered slot: a keyword no opt-in or opt-out word resembles.
SLOT_REPLY = re.compile(r"^\s*(?:v|拜访)\s*([1-5])\s*$", re.IGNORECASE)


def _slot_reply(case: Case, text: str, now: datetime) -> datetime | None:
    match = SLOT_REPLY.match(text)
    visit = case.current_visit()
    if match is None or visit is None or case.s.stage is not Stage.VISIT or case.paused(now):
        return None
    index = int(match.group(1)) - 1
    if index >= len(visit.offered) or visit.offered[index] <= now or case.s.cease_contact:
        return None
    return visit.offered[index]


class IvrResponse(ActionDef[c.IvrResponse]):
    name = ActionName.IVR_RESPONSE

    def run(self, case: Case, inp: c.IvrResponse, actor: Actor, now: datetime) -> None:
        if not case.first_delivery(f"{inp.provider_sid}:{inp.digits}"):
            return
        case.report_contact("", c.ContactOutcome.ANSWERED, inp.provider_sid, connected=True)
        s = case.s
        if s.stage.terminal:
            return
        if inp.digits == "1" and case.open_commitment() is None and not case.paused(now):
            days = case.strategy.negotiation.promise_within_days
            case.add_promise(s.balance, days, "ivr", actor, now)
            if s.stage is not Stage.FOLLOW_UP:
                case.enter(Stage.FOLLOW_UP, "borrower promised to pay (IVR key 1)", now)
        elif inp.digits == "2":
            s.callback_requested_at = now
            case.event("callback", "borrower asked for a call back (IVR key 2)", now)


STATUS = {
    "delivered": c.ContactOutcome.DELIVERED,
    "undelivered": c.ContactOutcome.UNDELIVERED,
    "failed": c.ContactOutcome.FAILED,
    "no-answer": c.ContactOutcome.UNANSWERED,
    "busy": c.ContactOutcome.UNANSWERED,
    "canceled": c.ContactOutcome.UNANSWERED,
}


class ContactStatus(ActionDef[c.ContactStatusEvent]):
    name = ActionName.CONTACT_STATUS

    def run(self, case: Case, inp: c.ContactStatusEvent, actor: Actor, now: datetime) -> None:
        status = inp.status.lower()
        answered = status == "completed" and (inp.duration_seconds or 0) > 0
        outcome = c.ContactOutcome.ANSWERED if answered else STATUS.get(status)
        if status == "completed" and not answered:
            outcome = c.ContactOutcome.UNANSWERED
        if outcome is None:
            return
        record = case.report_contact("", outcome, inp.provider_sid, connected=answered)
        if record is not None:
            case.event(
                "contact",
                f"{record.channel.value} {record.step}: provider status {status}",
                now,
                step=record.step,
                status=status,
                outcome=outcome.value,
                sid=inp.provider_sid,
            )
