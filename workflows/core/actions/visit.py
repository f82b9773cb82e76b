"""The visit time agreed with the borrower: slots offered, accepted, proposed or rescheduled;
a visit is booked on an accepted slot with enough collectors, and its outcome is recorded
only once the slot has begun. Visits stop for pauses, disputes and cease-contact."""

from __future__ import annotations

from datetime import datetime

from models import case as c
from models.actions import ActionName
from models.common import SYSTEM_ACTOR, Actor, Stage
from workflows.core import localtime
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal
from workflows.core.state import Visit


def _visit(case: Case) -> Visit:
    visit = case.current_visit()
    if visit is None:
        raise Refusal("no_visit")
    return visit


def _check_time(case: Case, at: datetime, now: datetime) -> None:
    if at <= now:
        raise Refusal("in_past", at=at.isoformat())
    rules = case.strategy.compliance
    if not localtime.in_window(at, case.s.timezone, rules.window_start, rules.window_end):
        raise Refusal(
            "outside_hours",
            at=localtime.describe(at, case.s.timezone),
            start=rules.window_start.strftime("%H:%M"),
            end=rules.window_end.strftime("%H:%M"),
        )


def book(case: Case, visit: Visit, slot: datetime, actor: Actor, now: datetime) -> None:
    """Accepted and staffed: the visit is on."""
    visit.accepted = slot
    if len(set(visit.collectors)) >= case.strategy.visit.collectors:
        visit.scheduled_at = slot
        visit.scheduled_by = actor
        visit.reminder_sent = False
        case.event("visit", f"visit {visit.visit_no} booked for {slot.isoformat()}", now, actor)
    else:
        case.alert("visit_collectors", f"Visit {visit.visit_no}: assign collectors.", now)


class OfferSlots(ActionDef[c.OfferSlotsInput]):
    name = ActionName.OFFER_SLOTS
    stopped_by_pause = True

    def check(self, case: Case, inp: c.OfferSlotsInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        _visit(case)
        for slot in inp.slots:
            _check_time(case, slot, now)

    def run(self, case: Case, inp: c.OfferSlotsInput, actor: Actor, now: datetime) -> None:
        visit = _visit(case)
        visit.offered = sorted(inp.slots)
        visit.scheduled_at = visit.accepted = None
        visit.proposal_sent = False  # the new slots go to the borrower
        if inp.collectors:
            visit.collectors = list(dict.fromkeys(inp.collectors))
        case.event("visit", f"visit {visit.visit_no}: {len(inp.slots)} slots offered", now, actor)


class VisitAnswer(ActionDef[c.VisitAnswerInput]):
    name = ActionName.VISIT_ANSWER
    stopped_by_pause = True

    def check(self, case: Case, inp: c.VisitAnswerInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        visit = _visit(case)
        if inp.slot is not None:
            _check_time(case, inp.slot, now)
        if inp.answer == "accept" and inp.slot not in visit.offered:
            raise Refusal("not_offered", slot=str(inp.slot))

    def run(self, case: Case, inp: c.VisitAnswerInput, actor: Actor, now: datetime) -> None:
        visit = _visit(case)
        if inp.answer == "accept" and inp.slot is not None:
            book(case, visit, inp.slot, actor, now)
        elif inp.answer == "propose":
            visit.proposed_by_borrower = inp.slot
            case.event("visit", f"visit {visit.visit_no}: borrower proposed a time", now, actor)
        else:
            visit.scheduled_at = visit.accepted = None
            case.event("visit", f"visit {visit.visit_no}: borrower asked to reschedule", now, actor)


class ScheduleVisit(ActionDef[c.ScheduleVisitInput]):
    """An operator books a time the borrower agreed on the phone (or proposed)."""

    name = ActionName.SCHEDULE_VISIT
    stopped_by_pause = True

    def check(self, case: Case, inp: c.ScheduleVisitInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        visit = _visit(case)
        _check_time(case, inp.at, now)
        given = len(set(inp.collectors) or set(visit.collectors))
        if given < case.strategy.visit.collectors:
            needed = str(case.strategy.visit.collectors)
            raise Refusal("collectors", needed=needed, given=str(given))

    def run(self, case: Case, inp: c.ScheduleVisitInput, actor: Actor, now: datetime) -> None:
        visit = _visit(case)
        if inp.collectors:
            visit.collectors = list(dict.fromkeys(inp.collectors))
            case.s.assigned_agents = list(visit.collectors)
        if inp.at not in visit.offered:
            visit.offered = sorted([*visit.offered, inp.at])
        book(case, visit, inp.at, actor, now)


class VisitOutcome(ActionDef[c.RecordVisitInput]):
    name = ActionName.VISIT_OUTCOME

    def check(self, case: Case, inp: c.RecordVisitInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        visit = _visit(case)
        if visit.scheduled_at is None:
            raise Refusal("not_scheduled")
        if now < visit.scheduled_at:
            raise Refusal("before_slot", at=visit.scheduled_at.isoformat())

    def run(self, case: Case, inp: c.RecordVisitInput, actor: Actor, now: datetime) -> None:
        visit = _visit(case)
        visit.outcome, visit.notes, visit.recorded_by = inp.outcome, inp.notes, actor
        case.s.contact_retry_at = None  # a reminder deferred for this visit is moot now
        case.event("visit", f"visit {visit.visit_no} outcome: {inp.outcome.value}", now, actor)
        if inp.outcome is c.VisitOutcome.MET:
            case.enter(Stage.NEGOTIATING, "met the borrower", now, actor)
        elif inp.outcome is not c.VisitOutcome.NOT_HOME:
            case.enter(Stage.ESCALATED, f"visit outcome {inp.outcome.value}", now, actor)
        # not home: the stage stays; the clock offers the next visit


def collectors_assigned(case: Case, visit_no: int, agents: list[str], now: datetime) -> None:
    """The shell hands back the collector assignment it was asked for."""
    visit = case.current_visit()
    if visit is None or visit.visit_no != visit_no:
        return
    visit.staffing_known = True
    visit.collectors = list(dict.fromkeys(agents))
    case.s.assigned_agents = list(visit.collectors)
    case.event("visit", f"visit {visit_no}: {len(agents)} collectors assigned", now)
    if visit.accepted is not None and visit.scheduled_at is None and not case.paused(now):
        book(case, visit, visit.accepted, SYSTEM_ACTOR, now)
