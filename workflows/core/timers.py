"""The shell-facing clock: ``next_wait`` says what to wait for, ``on_timer`` does what is due.

A thin shell is a loop: ``w = next_wait(case, now)``; wait once until ``w.until`` (or for an
update or signal); ``on_timer(case, now)``; run the effects; repeat until the case is closed.
One timer per wait, aimed at the time the gate will allow, not at local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.common import Channel, Stage
from workflows.core import clock, compliance, localtime, treatments, visits
from workflows.core import effects as fx
from workflows.core.case import Case
from workflows.core.state import Commitment

MAX_STEPS = 32  # stage moves cascade (a late-opened case skips reminders); bounded all the same


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: only an update or a signal ends the wait
    reason: str


def on_timer(case: Case, now: datetime) -> list[fx.Effect]:
    """Do everything that is due at ``now``; the effects include a ``Timer`` for the next wait."""
    case.settle_time(now)
    s = case.s
    if s.receipt_due and (s.contact_retry_at is None or now >= s.contact_retry_at):
        case.send_receipt(now)
    for _ in range(MAX_STEPS):
        if not case.open or case.paused(now) or not _step(case, now):
            break
    wait = next_wait(case, now)
    return [*case.take(), fx.Timer(until=wait.until, reason=wait.reason)]


def deferred(case: Case, decision: compliance.Decision) -> bool:
    """Remember a deferral (the next wait aims at it); True when the step is done anyway."""
    if decision.verdict is compliance.Verdict.DEFER:
        case.s.contact_retry_at = decision.until
        return False
    case.s.contact_retry_at = None
    return True


def _step(case: Case, now: datetime) -> bool:
    """One piece of due work in the current stage; True when something moved."""
    s = case.s
    if s.contact_retry_at is not None and now < s.contact_retry_at:
        return False
    if s.stage is Stage.REMINDING:
        return _reminding(case, now)
    if s.stage in (Stage.WAITING, Stage.NEGOTIATING):
        if s.stage_deadline is None or now < s.stage_deadline:
            return False
        if s.stage is Stage.WAITING:
            case.enter(Stage.VISIT, "no payment or promise after the wait", now)
        else:
            case.alert("negotiation_overdue", "No negotiation result in time; escalating.", now)
            case.enter(Stage.ESCALATED, "no negotiation result in time", now)
        return True
    if s.stage is Stage.VISIT:
        return visits.visit_step(case, now)
    if s.stage is Stage.FOLLOW_UP:
        return _follow_up(case, now)
    due = s.stage_deadline is not None and now >= s.stage_deadline
    if s.stage is Stage.ESCALATED and s.escalation_alerted == "entry" and due:
        s.escalation_alerted = "deadline"
        case.alert("escalation_overdue", f"Case {s.case_id}: the decision is overdue.", now)
    return False


def _reminding(case: Case, now: datetime) -> bool:
    s, steps = case.s, case.strategy.reminders
    i = s.reminder_index
    if i >= len(steps):
        case.enter(Stage.WAITING, "reminder cadence complete", now)
        return True
    if i + 1 < len(steps) and clock.reminder_time(s, case.strategy, i + 1) <= now:
        case.log_skipped(steps[i].channel, f"reminder-{i}", now, "the case opened after it")
        s.reminder_index += 1
        return True
    if now < clock.reminder_time(s, case.strategy, i):
        return False
    skip = treatments.reminder_skip(s, case.strategy, i)
    if skip is not None:
        case.log_skipped(steps[i].channel, f"reminder-{i}", now, skip)
        s.reminder_index += 1
        return True
    decision = case.contact(steps[i].channel, f"reminder-{i}", steps[i].template, now)
    if not deferred(case, decision):
        return False
    s.reminder_index += 1
    return True


def check_at(case: Case, item: Commitment) -> datetime:
    """When a commitment is judged: some days after it fell due, or after its reminder if the
    contact rules held the reminder back past the due date (the borrower gets the same time)."""
    since = max(item.due_at, item.reminded_at or item.due_at)
    return since + clock.days(case.strategy, case.strategy.follow_up.check_after_days)


def _follow_up(case: Case, now: datetime) -> bool:
    rules = case.strategy.follow_up
    item = case.open_commitment()
    if item is None:
        case.enter(Stage.NEGOTIATING, "commitments met but a balance remains", now)
        return True
    if case.kept(item):
        case.settle_commitment(item, now)
        return True
    if not item.reminded and now >= item.due_at - clock.days(
        case.strategy, rules.reminder_lead_days
    ):
        step = f"promise-{item.no}-reminder"
        if item.kind == "installment":
            step = f"plan-{item.plan_no}-installment-{item.index}-reminder"
        template = "installment_reminder" if item.kind == "installment" else "promise_reminder"
        extra = {"amount": str(item.amount), "date": item.due_date.isoformat()}
        if item.kind == "installment":
            extra |= {"index": str(item.index), "count": str(item.count)}
        decision = case.contact(Channel.SMS, step, template, now, extra=extra)
        if not deferred(case, decision):
            return False
        item.reminded, item.reminded_at = True, now
        return True
    if now >= check_at(case, item):
        case.settle_commitment(item, now)
        return True
    return False


def _in_window(case: Case, when: datetime) -> datetime:
    """Aim a contact's timer where the gate will allow it, not where it would defer."""
    if not clock.real_days(case.strategy):
        return when
    rules = case.strategy.compliance
    return localtime.next_window_open(when, case.s.timezone, rules.window_start, rules.window_end)


def next_wait(case: Case, now: datetime) -> Wait:
    s = case.s
    if not case.open:
        return Wait(s.contact_retry_at, "receipt") if s.receipt_due else Wait(None, "closed")
    if s.dispute_open:
        return Wait(None, "dispute_resolution")
    if s.hardship_until is not None and now < s.hardship_until:
        return Wait(s.hardship_until, "hardship_ends")
    if s.contact_retry_at is not None and s.contact_retry_at > now:
        return Wait(s.contact_retry_at, "contact_window")
    if s.stage is Stage.REMINDING:
        if s.reminder_index >= len(case.strategy.reminders):
            return Wait(now, "reminders_done")
        return Wait(clock.reminder_time(s, case.strategy, s.reminder_index), "reminder")
    if s.stage is Stage.WAITING:
        return Wait(s.stage_deadline, "wait_ends")
    if s.stage is Stage.NEGOTIATING:
        return Wait(s.stage_deadline, "negotiation_result")
    if s.stage is Stage.VISIT:
        return visits.visit_wait(case, now)
    if s.stage is Stage.FOLLOW_UP:
        item = case.open_commitment()
        if item is None:
            return Wait(now, "commitments_done")
        if case.kept(item):  # paid: settle it now rather than at the check
            return Wait(now, "commitment_kept")
        lead = clock.days(case.strategy, case.strategy.follow_up.reminder_lead_days)
        if not item.reminded and item.due_at - lead > now:
            return Wait(_in_window(case, item.due_at - lead), "commitment_reminder")
        return Wait(check_at(case, item), "commitment_check")
    if s.escalation_alerted == "entry":
        return Wait(s.stage_deadline, "supervisor_decision")
    # Wake once when legal action becomes possible: the case's days past due are fresh then.
    legal = clock.dpd_reached(s, case.strategy, case.strategy.escalation.legal_min_dpd)
    return Wait(legal if legal > now else None, "supervisor_decision")
