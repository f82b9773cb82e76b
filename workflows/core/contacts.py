"""Contacts through the gate: every message, call and visit proposal asks ``compliance``
first; caps count the borrower's contacts on all their loans and the operators' own calls."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from models.case import ContactOutcome, ContactRecord
from models.common import SYSTEM_ACTOR, Actor, Channel
from workflows.core import compliance
from workflows.core import effects as fx
from workflows.core.pauses import Pauses
from workflows.core.state import SIDS_KEPT, Contact


def _as_record(c: Contact) -> ContactRecord:
    return ContactRecord(
        key=c.key,
        channel=c.channel,
        purpose=c.step,
        at=c.at,
        outcome=c.outcome,
        connected=c.connected,
    )


class Contacts(Pauses):
    def gate(
        self, channel: Channel, now: datetime, transactional: bool = False
    ) -> compliance.Decision:
        s = self.s
        decision = self._decide(channel, now, transactional, (*s.borrower_contacts, *s.contacts))
        if not s.borrower_contacts or decision.verdict is not compliance.Verdict.DEFER:
            return decision
        # Say so when the borrower's other loans are why: the case's own log alone would not.
        alone = self._decide(channel, now, transactional, s.contacts)
        if alone.verdict is compliance.Verdict.DEFER and alone.until == decision.until:
            return decision
        n = sum(1 for c in s.borrower_contacts if c.channel is channel)
        plural = "" if n == 1 else "s"
        why = f"{decision.reason}; counting {n} {channel.value} contact{plural} on other loans"
        return dataclasses.replace(decision, reason=why)

    def _decide(
        self, channel: Channel, now: datetime, transactional: bool, contacts: Sequence[Contact]
    ) -> compliance.Decision:
        s = self.s
        log = [_as_record(c) for c in contacts]
        rules = self.strategy.compliance
        if s.hours_start and s.hours_end:  # the borrower's own hours narrow the strategy's
            window = {
                "window_start": max(rules.window_start, s.hours_start),
                "window_end": min(rules.window_end, s.hours_end),
            }
            rules = rules.model_copy(update=window)
        return compliance.decide(
            compliance.ContactContext(
                channel=channel,
                at=now,
                timezone=s.timezone,
                rules=rules,
                day_seconds=self.strategy.day_seconds,
                log=log,
                consent=frozenset(s.consent),
                opted_out=frozenset(s.opted_out),
                cease_contact=s.cease_contact,
                dispute_open=s.dispute_open,
                hardship_until=s.hardship_until,
                terminal=s.stage.terminal,
                transactional=transactional,
            )
        )

    def contact(
        self,
        channel: Channel,
        step: str,
        template: str,
        now: datetime,
        *,
        transactional: bool = False,
        extra: dict[str, str] | None = None,
    ) -> compliance.Decision:
        """Contact now if the gate says send; otherwise return its answer (defer or block)."""
        decision = self.gate(channel, now, transactional)
        if decision.verdict is compliance.Verdict.BLOCK:
            self.log_skipped(channel, step, now, decision.reason, ContactOutcome.BLOCKED)
        if decision.verdict is compliance.Verdict.DEFER:
            self.s.contacts.append(
                Contact(
                    key=self.key(step),
                    channel=channel,
                    step=step,
                    at=now,
                    outcome=ContactOutcome.DEFERRED,
                    reason=decision.reason,
                    until=decision.until,
                )
            )
            until = decision.until.isoformat() if decision.until else "?"
            self.event(
                "contact",
                f"{channel.value} {step}: deferred until {until} ({decision.reason})",
                now,
                channel=channel.value,
                step=step,
                outcome=ContactOutcome.DEFERRED.value,
                reason=decision.reason,
                until=until,
            )
        if decision.verdict is not compliance.Verdict.SEND:
            return decision
        key = self.key(step)
        self.s.contacts.append(
            Contact(
                key=key,
                channel=channel,
                step=step,
                at=now,
                outcome=ContactOutcome.SENT,
                transactional=transactional,
            )
        )
        self.emit(
            fx.Contact(
                key=key,
                channel=channel,
                step=step,
                template=template,
                to=self.s.phone,
                at=now,
                transactional=transactional,
                extra=extra or {},
            )
        )
        self.event(
            "contact",
            f"{channel.value} {step}: sent",
            now,
            channel=channel.value,
            step=step,
            outcome=ContactOutcome.SENT.value,
        )
        return decision

    def log_skipped(
        self,
        channel: Channel,
        step: str,
        now: datetime,
        why: str,
        outcome: ContactOutcome = ContactOutcome.SKIPPED,
    ) -> None:
        self.s.contacts.append(
            Contact(
                key=self.key(step),
                channel=channel,
                step=step,
                at=now,
                outcome=outcome,
                reason=why,
            )
        )
        self.event(
            "contact",
            f"{channel.value} {step}: not sent ({why})",
            now,
            channel=channel.value,
            step=step,
            outcome=outcome.value,
            reason=why,
        )

    def log_manual(
        self, channel: Channel, connected: bool, at: datetime, actor: Actor, what: str
    ) -> None:
        """An operator's own call, on the log like any attempt: the caps count it."""
        n = sum(1 for c in self.s.contacts if c.manual) + 1
        outcome = ContactOutcome.ANSWERED if connected else ContactOutcome.UNANSWERED
        self.s.contacts.append(
            Contact(
                key=self.key(f"manual-{n}"),
                channel=channel,
                step=f"manual-{n}",
                at=at,
                outcome=outcome,
                connected=connected,
                manual=True,
            )
        )
        self.event(
            "contact",
            f"operator {channel.value} logged: {what}",
            at,
            actor,
            channel=channel.value,
            step=f"manual-{n}",
            outcome=outcome.value,
        )

    def report_contact(
        self, key: str, outcome: ContactOutcome, sid: str | None, connected: bool
    ) -> Contact | None:
        """The shell hands back what a contact activity (or a provider callback) reported;
        the record when its outcome changed."""
        for record in reversed(self.s.contacts):
            if record.key == key or (sid is not None and record.provider_sid == sid):
                changed = record.outcome is not outcome
                record.outcome = outcome
                record.provider_sid = sid or record.provider_sid
                record.connected = record.connected or connected
                return record if changed else None
        return None

    def set_opt_out(
        self, channel: Channel, out: bool, why: str, now: datetime, actor: Actor = SYSTEM_ACTOR
    ) -> None:
        present = channel in self.s.opted_out
        if out == present:
            return
        if out:
            self.s.opted_out.append(channel)
            self.emit(fx.DoNotContact(phone=self.s.phone, channel=channel))
        else:
            self.s.opted_out.remove(channel)
        verb = "opted out of" if out else "opted back in to"
        self.event("preference", f"borrower {verb} {channel.value}: {why}", now, actor)

    def first_delivery(self, sid: str) -> bool:
        """Providers redeliver webhooks; each message or key press counts once."""
        if sid in self.s.handled_sids:
            return False
        self.s.handled_sids.append(sid)
        del self.s.handled_sids[:-SIDS_KEPT]
        return True
