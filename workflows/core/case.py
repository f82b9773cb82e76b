"""``Case``: the only writer of a case's stage and state. Actions and timers call its methods;
each call's effects are collected with ``take()`` for the shell to run."""

from __future__ import annotations

from datetime import datetime

from models.common import Actor, Channel, Stage
from models.treatments import OFFER_TEMPLATE
from workflows.core import clock, scoring, treatments
from workflows.core import effects as fx
from workflows.core.commitments import Commitments
from workflows.core.compliance import Verdict


class Case(Commitments):
    def assess(self, why: str, now: datetime) -> None:
        """Score the case and pick its treatment (DESIGN §9), on record with the reasons.

        At stage boundaries and after each negotiation; nothing without a scorecard."""
        result = scoring.score_case(self.s, self.strategy, now)
        if result is None:
            return
        hardship = treatments.in_hardship(self.s, self.strategy)
        choice = treatments.choose(self.strategy, result.segment, hardship=hardship)
        s = self.s
        s.score, s.segment, s.treatment = result.score, result.segment, choice.path.value
        s.hardship = hardship
        reasons = {
            f"reason_{i}_{lang}": getattr(r, lang)
            for i, r in enumerate(result.reasons, 1)
            for lang in ("en", "zh")
        }
        self.event(
            "assessment",
            f"{why}: {result.summary()}; {choice.why}",
            now,
            scorecard=result.scorecard,
            score=str(result.score),
            segment=result.segment,
            treatment=choice.path.value,
            **reasons,
        )
        self.offer_hardship(now)

    def offer_hardship(self, now: datetime) -> None:
        """A hardship_first treatment offers the calculator's grace or affordable plan: on
        record, and by SMS with the borrower's link where they can take it. The same offer is
        not repeated; a changed one (new figures, a grace used) is made again."""
        s = self.s
        if s.hardship_until is not None and now < s.hardship_until:
            return  # a grace is running: nothing to offer until it ends and the case assesses
        offer = treatments.hardship_offer(s, self.strategy)
        if offer is None:
            return
        signature = f"{offer.kind}:{offer.count}:{offer.grace_days}"
        if signature == s.last_offer:
            return
        s.last_offer, s.offers_made = signature, s.offers_made + 1
        if offer.kind == "hardship_grace":
            s.graces_offered += 1
        self.event(
            "offer",
            f"offered {offer.kind.replace('_', ' ')}: {offer.why}",
            now,
            offer=offer.kind,
            count=str(offer.count),
            grace_days=str(offer.grace_days),
        )
        if OFFER_TEMPLATE in self.strategy.templates:
            days = offer.grace_days or offer.count
            extra = {"days": str(days), "count": str(offer.count)}
            self.contact(Channel.SMS, f"offer-{s.offers_made}", OFFER_TEMPLATE, now, extra=extra)

    def on_enter(self, stage: Stage, reason: str, now: datetime, actor: Actor) -> None:
        s = self.s
        if not stage.terminal:
            self.assess(f"entered {stage.value}", now)
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
            wait = treatments.wait_days(s, self.strategy)  # a visit_early treatment: sooner
            s.stage_deadline = now + clock.days(self.strategy, wait)
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
