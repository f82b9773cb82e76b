"""The part of ``Case`` every other part builds on: the state, the effects it has produced,
stage moves (checked against the transition table), events, alerts and bounding."""

from __future__ import annotations

from datetime import datetime

from models.common import SYSTEM_ACTOR, Actor, Stage
from models.strategy import Strategy
from workflows.core import effects as fx
from workflows.core import stages
from workflows.core.state import (
    CONTACTS_KEPT,
    NOTES_KEPT,
    PAYMENTS_KEPT,
    STAGES_KEPT,
    CaseState,
    StageMove,
    Visit,
)


class IllegalMove(RuntimeError):
    """A stage move outside the table: a bug in the core, never a caller's fault."""


class CaseBase:
    def __init__(self, state: CaseState, strategy: Strategy) -> None:
        self.s = state
        self.strategy = strategy
        self._out: list[fx.Effect] = []

    # ------------------------------------------------------------ effects

    def emit(self, effect: fx.Effect) -> None:
        self._out.append(effect)

    def take(self) -> list[fx.Effect]:
        self.bound()
        out, self._out = self._out, []
        return out

    def event(
        self,
        kind: str,
        summary: str,
        now: datetime,
        actor: Actor | None = None,
        **details: str,
    ) -> None:
        self.emit(fx.Event(kind=kind, summary=summary, at=now, actor=actor, details=details))

    def alert(self, kind: str, message: str, now: datetime) -> None:
        self.s.alerts_sent += 1  # numbers every alert of the case: the idempotency key
        key = f"{self.s.case_id}/g{self.s.generation}/alert-{self.s.alerts_sent}"
        self.emit(fx.Alert(key=key, kind=kind, message=message))
        self.event("alert", message, now, alert=kind)

    def key(self, step: str) -> str:
        return f"{self.s.case_id}/g{self.s.generation}/{step}"

    # ------------------------------------------------------------ stage

    @property
    def open(self) -> bool:
        return not self.s.stage.terminal

    def enter(self, stage: Stage, reason: str, now: datetime, actor: Actor = SYSTEM_ACTOR) -> None:
        previous = self.s.stage
        if not stages.may_move(previous, stage):
            raise IllegalMove(f"{previous.value} -> {stage.value} is not in the stage table")
        self.s.stage = stage
        self.s.stage_entered_at = now
        self.s.stage_history.append(StageMove(at=now, stage=stage, reason=reason, actor=actor))
        del self.s.stage_history[:-STAGES_KEPT]
        self.s.stage_deadline = None
        self.s.contact_retry_at = None
        kind = "closed" if stage.terminal else "stage"
        summary = f"{previous.value} -> {stage.value}: {reason}"
        self.event(kind, summary, now, actor, source=previous.value, target=stage.value)
        self.on_enter(stage, reason, now, actor)

    def on_enter(self, stage: Stage, reason: str, now: datetime, actor: Actor) -> None:
        """Stage entry work (alerts, hand-offs, receipts); ``Case`` fills it in."""

    def current_visit(self) -> Visit | None:
        if self.s.visits and self.s.visits[-1].outcome is None:
            return self.s.visits[-1]
        return None

    # ------------------------------------------------------------ bounds

    def bound(self) -> None:
        """Keep every list within its bound; what leaves goes to the read model as an event."""
        s = self.s
        if len(s.notes) > NOTES_KEPT:
            for note in s.notes[:-NOTES_KEPT]:
                self.event("archived_note", note.text, note.at, note.actor)
            del s.notes[:-NOTES_KEPT]
        if len(s.payments) > PAYMENTS_KEPT:
            for p in s.payments[:-PAYMENTS_KEPT]:
                self.event(
                    "archived_payment",
                    f"payment {p.payment_ref} of {p.amount}",
                    p.recorded_at,
                    p.actor,
                    payment_ref=p.payment_ref,
                    amount=str(p.amount),
                )
            del s.payments[:-PAYMENTS_KEPT]
        if len(s.contacts) > CONTACTS_KEPT:
            for r in s.contacts[:-CONTACTS_KEPT]:
                self.event("archived_contact", f"{r.channel.value} {r.step}", r.at, step=r.step)
            del s.contacts[:-CONTACTS_KEPT]
