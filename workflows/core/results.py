"""What the shell's activities report back: a contact's outcome at the provider, the field
collectors assigned to a visit, the legal hand-off's reference. Each returns the effects that
follow (a fallback contact, an alert, a re-aimed timer)."""

from __future__ import annotations

from datetime import datetime

from models import activities as act
from models.case import ContactOutcome
from models.common import SYSTEM_ACTOR, Channel
from workflows.core import effects as fx
from workflows.core.actions.visit import collectors_assigned
from workflows.core.case import Case
from workflows.core.timers import next_wait

FALLBACK = {Channel.SMS: Channel.CALL, Channel.CALL: Channel.SMS}
UNSUBSCRIBED = "21610"  # Twilio: the number replied STOP to this sender


def _then(case: Case, now: datetime) -> list[fx.Effect]:
    wait = next_wait(case, now)
    return [*case.take(), fx.Timer(until=wait.until, reason=wait.reason)]


def contact_result(
    case: Case, sent: fx.Contact, result: act.ContactResult, now: datetime
) -> list[fx.Effect]:
    """Record the provider's answer; a rejected reminder falls back to the other channel."""
    outcome, sid, error_code = result.outcome, result.provider_sid, result.error_code
    reason, text_sha256 = result.reason, result.text_sha256
    record = case.report_contact(sent.key, outcome, sid, connected=False)
    if record is not None:
        record.reason = reason
        summary = f"{sent.channel.value} {sent.step}: {outcome.value}"
        sealed: dict[str, str] = {}
        if text_sha256:  # rendered by the activity: the case keeps the template and a hash
            record.template, record.text_sha256 = sent.template, text_sha256
            sealed = {"template": sent.template, "text_sha256": text_sha256}
        case.event(
            "contact",
            f"{summary} ({reason})" if reason else summary,
            now,
            None,
            channel=sent.channel.value,
            step=sent.step,
            outcome=outcome.value,
            reason=reason,
            **sealed,
        )
    if outcome is ContactOutcome.REJECTED:
        if sent.channel is Channel.SMS and error_code == UNSUBSCRIBED:
            case.set_opt_out(Channel.SMS, True, "the provider reports the number unsubscribed", now)
        if sent.step.startswith("reminder-") and not sent.step.endswith("-fallback"):
            other = FALLBACK[sent.channel]
            template = next(
                (r.template for r in case.strategy.reminders if r.channel is other), sent.template
            )
            case.contact(other, f"{sent.step}-fallback", template, now)
    return _then(case, now)


def collectors_result(
    case: Case, visit_no: int, agents: list[str], why: str, now: datetime
) -> list[fx.Effect]:
    needed = case.strategy.visit.collectors
    collectors_assigned(case, visit_no, agents, now)
    if len(agents) < needed:
        case.alert(
            "no_collectors",
            f"Fewer than {needed} field collectors are free in region {case.s.region}: {why}. "
            "Assign collectors when confirming the visit.",
            now,
        )
    return _then(case, now)


def legal_result(case: Case, reference: str, now: datetime) -> list[fx.Effect]:
    case.s.legal_reference = reference
    actor = case.s.legal_approved_by or SYSTEM_ACTOR
    case.event("escalation", f"case file handed to legal ({reference})", now, actor)
    return case.take()
