"""The pure engine's simulated parts: what the Temporal engine's activities and the Twilio
sandbox do, in memory. A contact is sent and reported ``sent`` with a provider id (the
sandbox's callbacks are off in both engines); collectors are assigned the least loaded of the
region first, ties by id (``activities/agents.py``); every event is counted on the loan's
record the way the Temporal engine counts the read model's."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from models.case import ContactOutcome
from models.common import Channel, Stage
from simulation.model import CaseRecord, day_of
from workflows.core import effects as fx
from workflows.core import entry
from workflows.core.case import Case
from workflows.core.timers import next_wait

Effects = Sequence[fx.Effect]
AGENTS_PER_REGION = 20  # as the Temporal engine seeds them (simulation.driver)
CAPACITY_PER_DAY = 100


class Provider:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self.sent = 0
        self.load: dict[tuple[str, date], Counter[str]] = {}
        self.booked: dict[tuple[str, date], list[str]] = {}

    def play(self, rec: CaseRecord, case: Case, effects: Effects, now: datetime) -> fx.Timer | None:
        """Every effect, and those the results bring; the last timer the core asked for."""
        queue = deque(effects)
        timer: fx.Timer | None = None
        while queue:
            effect = queue.popleft()
            if isinstance(effect, fx.Timer):
                timer = effect
            elif isinstance(effect, fx.Contact):
                self._contact(rec, case, effect, now)
            elif isinstance(effect, fx.AssignCollectors):
                agents = self._assign(case.s.case_id, effect)
                entry.collectors_assigned(case, effect.visit_no, agents, now)
                wait = next_wait(case, now)
                queue.extend([*case.take(), fx.Timer(until=wait.until, reason=wait.reason)])
            elif isinstance(effect, fx.Event):
                self._count(rec, effect)
            # Alerts, legal hand-offs and do-not-contact entries change nothing a case sees.
        return timer

    def _contact(self, rec: CaseRecord, case: Case, effect: fx.Contact, now: datetime) -> None:
        self.sent += 1
        entry.contact_reported(case, effect.key, ContactOutcome.SENT, f"SIM{self.sent:09d}")
        # Receipts count too: the Temporal engine counts every "sent" contact event.
        rec.contacts[effect.channel.value] += 1
        rec.contact_days.append(day_of(self.start, now))
        if effect.channel is Channel.SMS:
            rec.sms_sent += 1
        else:
            rec.calls_sent += 1

    def _assign(self, case_id: str, effect: fx.AssignCollectors) -> list[str]:
        day_key = (case_id, effect.day)
        if day_key in self.booked:
            return self.booked[day_key]  # a repeat for the same case and day: the same agents
        region = effect.region
        load = self.load.setdefault((region, effect.day), Counter())
        roster = [
            f"SIM-FA-{region.removeprefix('sim-r')}-{a:02d}" for a in range(AGENTS_PER_REGION)
        ]
        free = sorted((a for a in roster if load[a] < CAPACITY_PER_DAY), key=lambda a: (load[a], a))
        chosen = free[: effect.count] if len(free) >= effect.count else []
        for agent in chosen:
            load[agent] += 1
        self.booked[day_key] = chosen
        return chosen

    def _count(self, rec: CaseRecord, event: fx.Event) -> None:
        details = event.details
        if event.kind == "payment" and "amount" in details:
            rec.paid.append((day_of(self.start, event.at), Decimal(details["amount"])))
        elif event.kind == "broken":
            rec.broken += 1
        elif event.kind == "contact" and details.get("outcome") in ("blocked", "skipped"):
            rec.blocked[details.get("reason", "")] += 1
        elif event.kind == "contact" and details.get("outcome") == "deferred":
            rec.deferred[details.get("reason", "")] += 1
        elif event.kind == "visit" and "outcome:" in event.summary:
            rec.visits_recorded += 1
        if event.kind in ("stage", "closed"):
            target = details.get("target", "")
            if target == Stage.ESCALATED.value:
                rec.escalations += 1
            if event.kind == "closed":
                rec.terminal_day = day_of(self.start, event.at)
                rec.terminal_at = event.at
            if target:
                rec.stage = Stage(target)
