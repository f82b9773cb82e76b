"""The visit stage's clock: offer slots, send the proposal, remind before the slot, and alert
when an answer or an outcome is overdue. A visit happens only on a slot the borrower accepted
with enough collectors assigned, and never while contact is paused or ceased."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.common import Channel, Stage
from workflows.core import clock, compliance, localtime
from workflows.core import effects as fx
from workflows.core.state import Visit

if TYPE_CHECKING:
    from workflows.core.case import Case
    from workflows.core.timers import Wait

SLOTS_OFFERED = 3


def offer_slots(case: Case, now: datetime) -> list[datetime]:
    """Slots on consecutive days from the strategy's notice, each inside the contact hours."""
    s, rules = case.s, case.strategy.visit
    window = case.strategy.compliance
    out = []
    for k in range(SLOTS_OFFERED):
        when = now + clock.days(case.strategy, rules.notice_days + k)
        when = clock.at_local_time(s, case.strategy, when, rules.at)
        out.append(
            localtime.next_window_open(when, s.timezone, window.window_start, window.window_end)
        )
    return out


def visit_step(case: Case, now: datetime) -> bool:
    s = case.s
    if s.cease_contact:
        case.enter(Stage.ESCALATED, "cease-contact is in force: no visit is possible", now)
        return True
    visit = case.current_visit()
    if visit is None:
        if len(s.visits) >= case.strategy.visit.max_visits:
            case.enter(Stage.ESCALATED, "the visit limit of the strategy is reached", now)
            return True
        visit = Visit(visit_no=len(s.visits) + 1, opened_at=now, offered=offer_slots(case, now))
        s.visits.append(visit)
        day = localtime.local_date(visit.offered[0], s.timezone)
        case.emit(
            fx.AssignCollectors(visit.visit_no, s.region, day, case.strategy.visit.collectors)
        )
        visit.staffing_asked = True
        case.event("visit", f"visit {visit.visit_no}: {len(visit.offered)} slots offered", now)
        return True
    if visit.staffing_asked and not visit.staffing_known:
        return False  # the proposal names who comes: wait for the assignment's answer
    if not visit.proposal_sent:
        slots = ", ".join(localtime.describe(t, s.timezone) for t in visit.offered)
        decision = case.contact(
            Channel.SMS, f"visit-{visit.visit_no}-proposal", "visit_proposal", now,
            extra={"visit_time": slots},
        )  # fmt: skip
        if decision.verdict is compliance.Verdict.DEFER:
            s.contact_retry_at = decision.until
            return False
        s.contact_retry_at = None
        visit.proposal_sent = True
        return True
    if visit.scheduled_at is None:
        return _answer_overdue(case, visit, now)
    return _booked_step(case, visit, visit.scheduled_at, now)


def _answer_overdue(case: Case, visit: Visit, now: datetime) -> bool:
    if now < _answer_deadline(case, visit):
        return False
    visit.alert_at = now
    case.alert("visit_unanswered", f"Visit {visit.visit_no}: no slot accepted yet.", now)
    return False


def _booked_step(case: Case, visit: Visit, slot: datetime, now: datetime) -> bool:
    lead = clock.days(case.strategy, case.strategy.visit.reminder_lead_days)
    if not visit.reminder_sent and slot - lead <= now < slot:
        decision = case.contact(
            Channel.SMS, f"visit-{visit.visit_no}-reminder", "visit_reminder", now,
            extra={"visit_time": localtime.describe(slot, case.s.timezone)},
        )  # fmt: skip
        if decision.verdict is compliance.Verdict.DEFER:
            case.s.contact_retry_at = decision.until
            return False
        case.s.contact_retry_at = None
        visit.reminder_sent = True
        return True
    if now >= _outcome_deadline(case, visit):
        visit.alert_at = now
        case.alert("visit_outcome_missing", f"Visit {visit.visit_no}: no outcome yet.", now)
    return False


def _answer_deadline(case: Case, visit: Visit) -> datetime:
    since = visit.alert_at or visit.opened_at
    return since + clock.days(case.strategy, case.strategy.visit.confirm_within_days)


def _outcome_deadline(case: Case, visit: Visit) -> datetime:
    slot = visit.scheduled_at or visit.opened_at
    since = visit.alert_at if visit.alert_at and visit.alert_at > slot else slot
    hours = case.strategy.visit.outcome_within_hours
    return since + timedelta(seconds=case.strategy.day_seconds * hours / 24)


def visit_wait(case: Case, now: datetime) -> Wait:
    from workflows.core.timers import Wait

    visit = case.current_visit()
    if visit is not None and visit.staffing_asked and not visit.staffing_known:
        return Wait(None, "collectors")  # the assignment's answer wakes the case
    if visit is None or not visit.proposal_sent or case.s.cease_contact:
        return Wait(now, "visit_next")
    if visit.scheduled_at is None:
        return Wait(_answer_deadline(case, visit), "visit_answer")
    lead = clock.days(case.strategy, case.strategy.visit.reminder_lead_days)
    remind = visit.scheduled_at - lead
    if not visit.reminder_sent and now < visit.scheduled_at:
        return Wait(max(remind, now), "visit_reminder")
    return Wait(_outcome_deadline(case, visit), "visit_outcome")
