"""What every action shares: the role and stage rules from the action table, and the run of an
action (settle the clock, apply, collect the effects and the re-aimed timer)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from models.actions import ACTIONS, ActionName, ActionSpec
from models.common import Actor
from workflows.core import effects as fx
from workflows.core.case import Case
from workflows.core.refusal import Refusal

I = TypeVar("I", bound=BaseModel)  # noqa: E741 - the input contract


class ActionDef(ABC, Generic[I]):
    """One action. Subclasses set ``name`` and write ``run``; most add to ``check``."""

    name: ActionName
    # Actions that pauses and cease-contact stop (visits are contact, DESIGN §2).
    stopped_by_pause = False

    @property
    def spec(self) -> ActionSpec:
        return ACTIONS[self.name]

    def available(self, case: Case, actor: Actor, now: datetime) -> None:
        """May this actor take this action now at all; raises a ``Refusal`` when not."""
        spec, s = self.spec, case.s
        if actor.role not in spec.roles:
            raise Refusal(
                "role",
                role=actor.role.value,
                phrase=spec.phrase_en,
                phrase_zh=spec.phrase_zh,
                roles=", ".join(sorted(r.value for r in spec.roles)),
            )
        if s.stage not in spec.stages:
            if s.stage.terminal:
                raise Refusal("closed", stage=f"{s.stage.value}: {s.terminal_reason}")
            raise Refusal(
                "stage",
                phrase=spec.phrase_en,
                phrase_zh=spec.phrase_zh,
                stage=s.stage.value,
                stages=", ".join(sorted(x.value for x in spec.stages)),
            )
        if self.stopped_by_pause:
            why = case.pause_reason(now) or ("cease-contact is in force" if s.cease_contact else "")
            if why:
                raise Refusal("paused", why=why)

    def check(self, case: Case, inp: I, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)

    @abstractmethod
    def run(self, case: Case, inp: I, actor: Actor, now: datetime) -> None:
        """What the action does to the case (``apply`` wraps it with time and the timer)."""

    def apply(self, case: Case, inp: I, actor: Actor, now: datetime) -> list[fx.Effect]:
        """Apply an input ``check`` accepted; the effects end with the re-aimed timer."""
        from workflows.core.timers import next_wait

        case.settle_time(now)
        self.run(case, inp, actor, now)
        wait = next_wait(case, now)
        return [*case.take(), fx.Timer(until=wait.until, reason=wait.reason)]

    def receive(self, case: Case, inp: I, actor: Actor, now: datetime) -> list[fx.Effect]:
        """For signals: nobody waits for an answer, so a refusal becomes an event on record."""
        try:
            self.check(case, inp, actor, now)
        except Refusal as refusal:
            case.event("refused", refusal.en, now, actor, code=refusal.code)
            return case.take()
        return self.apply(case, inp, actor, now)
