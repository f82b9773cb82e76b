"""Pauses stop the clocks: while a hardship pause or a dispute runs nothing is sent and no
visit happens, and when the last pause ends the stage deadline and every pending commitment's
due date move on by the pause's length (DESIGN §2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.common import Actor
from workflows.core import clock
from workflows.core.money import Money


class Pauses(Money):
    def pause_reason(self, now: datetime) -> str:
        if self.s.dispute_open:
            return "a dispute is open"
        if self.s.hardship_until is not None and now < self.s.hardship_until:
            return f"a hardship pause runs until {self.s.hardship_until.isoformat()}"
        return ""

    def paused(self, now: datetime) -> bool:
        return bool(self.pause_reason(now))

    def begin_pause(self, now: datetime) -> None:
        if self.s.paused_since is None:
            self.s.paused_since = now
        self.cancel_visit_slot("paused", now)

    def grant_hardship(self, days: int, actor: Actor, now: datetime, why: str) -> None:
        self.begin_pause(now)
        self.s.graces_used += 1
        start = max(now, self.s.hardship_until or now)
        self.s.hardship_until = start + timedelta(seconds=self.strategy.day_seconds * days)
        until = self.s.hardship_until.isoformat()
        self.event("hardship", f"hardship pause of {days} days until {until}: {why}", now, actor)

    def settle_time(self, now: datetime) -> None:
        """Called first by every entry point: ends a pause whose time is over."""
        s = self.s
        if s.paused_since is None or s.dispute_open:
            return
        if s.hardship_until is not None and s.hardship_until > now:
            return
        ends = [t for t in (s.hardship_until, s.dispute_closed_at) if t is not None]
        end = max([s.paused_since, *ends])
        shift = end - s.paused_since
        s.paused_since = None
        if shift <= timedelta(0):
            return
        if s.stage_deadline is not None:
            s.stage_deadline += shift
        for item in s.commitments:
            if item.status == "pending":
                item.due_at += shift
                item.due_date = clock.due_date_of(s, self.strategy, item.due_at)
        self.event("resumed", f"pause over; deadlines moved by {shift}", end)

    def cancel_visit_slot(self, why: str, now: datetime) -> None:
        """A visit respects pauses and cease-contact: a booked slot is given up."""
        visit = self.current_visit()
        if visit is not None and visit.scheduled_at is not None and visit.outcome is None:
            visit.scheduled_at = None
            visit.accepted = None
            visit.reminder_sent = False
            self.event("visit", f"visit {visit.visit_no} slot cancelled: {why}", now)
