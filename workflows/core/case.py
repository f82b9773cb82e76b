"""``Case``: the only writer of a case's stage and state. Actions and timers call its methods;
each call's effects are collected with ``take()`` for the shell to run."""

from __future__ import annotations

from datetime import datetime

from models.common import Actor, Channel, Stage
from workflows.core import clock
from workflows.core import effects as fx
from workflows.core.commitments import Commitments
from workflows.core.compliance import Verdict


class Case(Commitments):
    def on_enter(self, stage: Stage, reason: str, now: datetime, actor: Actor) -> None:
        s = self.s
        if stage.terminal:
            s.terminal_reason = reason
            self.replace_open(now)
            self.rebalance()
        if stage is Stage.ESCALATED:
            rules = self.strategy.escalation
            s.stage_deadline = now + clock.days(self.strategy, rules.decide_within_days)
            s.escalation_alerted = "entry"
            self.alert(
                "escalation_decision",
                f"Case {s.case_id} is escalated and needs a supervisor's decision by "
                f"{s.stage_deadline.isoformat()} (another visit, settlement, legal, write-off).",
                now,
            )
        elif stage is Stage.WAITING:
            s.stage_deadline = now + clock.days(self.strategy, self.strategy.wait.days)
        elif stage is Stage.NEGOTIATING:
            within = self.strategy.negotiation.decide_within_days
            s.stage_deadline = now + clock.days(self.strategy, within)
        elif stage is Stage.LEGAL:
            s.legal_approved_by = actor
            self.emit(fx.LegalHandoff(approved_by=actor))
        elif stage in (Stage.RESOLVED, Stage.SETTLED):
            # A receipt is not collection: it may go now, inside the window, unless opted out.
            self.send_receipt(now)

    def send_receipt(self, now: datetime) -> None:
        """The thank-you: now if the gate allows; deferred, the case waits for it to go."""
        s = self.s
        decision = self.contact(Channel.SMS, "thank-you", "thank_you", now, transactional=True)
        s.receipt_due = decision.verdict is Verdict.DEFER
        s.contact_retry_at = decision.until if s.receipt_due else None
