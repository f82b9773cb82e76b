"""The ``CollectionCase`` workflow: one durable case per overdue loan.

Deterministic orchestration only. Every side effect is an activity called by name (contracts in
``models/activities.py``); every contact first asks the compliance gate; every operator action is
an update whose validator refuses, with a sentence, what does not fit the case right now.

The main loop runs one stage at a time. Handlers change state and may move the stage; every wait
in a stage also wakes when the stage moves (``_epoch``), so a payment, a closure or a supervisor's
decision takes effect at once. Waits flush the events handlers produce to the read model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from models import activities as act
    from models import case as c
    from models.actions import ACTIONS, ActionName, role_refusal
    from models.common import (
        SYSTEM_ACTOR,
        Actor,
        Channel,
        Role,
        Stage,
        classify_inbound,
    )
    from models.strategy import Strategy, render
    from workflows import compliance, installments, localtime

ZERO = Decimal("0")

SA_STAGE = SearchAttributeKey.for_keyword(c.SA_NAME_STAGE)
SA_DPD = SearchAttributeKey.for_int(c.SA_NAME_DPD)
SA_REGION = SearchAttributeKey.for_keyword(c.SA_NAME_REGION)
SA_AGENTS = SearchAttributeKey.for_keyword_list(c.SA_NAME_AGENTS)
SA_BALANCE = SearchAttributeKey.for_float(c.SA_NAME_BALANCE)
SA_STRATEGY = SearchAttributeKey.for_keyword(c.SA_NAME_STRATEGY)
SEARCH_ATTRIBUTES = (SA_STAGE, SA_DPD, SA_REGION, SA_AGENTS, SA_BALANCE, SA_STRATEGY)

CONTACT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
# Who may do what is the action table's (models/actions.py): read, never written here.
FALLBACK = {Channel.SMS: Channel.CALL, Channel.CALL: Channel.SMS}
HANDLED_SIDS_KEPT = 200  # enough to catch redeliveries; bounded so the state stays small


@workflow.defn(name="CollectionCase")
class CollectionCase:
    @workflow.init
    def __init__(self, inp: c.CaseInput) -> None:
        self.loan = inp.loan
        self.borrower = inp.borrower
        self.strategy: Strategy = inp.strategy
        self.messaging_queue = inp.messaging_task_queue
        self.index_enabled = inp.search_attributes
        info = workflow.info()
        if inp.carried_state is not None:
            self.s = inp.carried_state
            self.s.run_number += 1
        else:
            self.s = c.CaseState(
                case_id=info.workflow_id,
                loan_id=inp.loan.loan_id,
                currency=inp.loan.currency,
                amount_overdue=inp.loan.amount_overdue,
                balance=inp.loan.amount_overdue,
                strategy=inp.strategy.ref,
                opened_at=workflow.now(),
                due_date=inp.loan.due_date,
                stage_history=[
                    c.StageChange(at=workflow.now(), stage=Stage.REMINDING, reason="case opened")
                ],
            )
        self._events: list[act.CaseEvent] = []
        self._epoch = 0
        self._fresh = inp.carried_state is None
        # Recorded here, not in run(): a signal that arrives with the first workflow task is
        # handled before run() starts, and the opening must come first in the case's events.
        if self._fresh:
            self._count("collectflow_workflow_cases_opened", strategy=self.strategy.id)
            self._event(
                act.CaseEventKind.OPENED,
                f"case opened on strategy {self.strategy.id} v{self.strategy.version}",
                details={
                    "amount_overdue": c.money_str(self.s.amount_overdue),
                    "strategy": f"{self.strategy.id}/{self.strategy.version}",
                },
            )
        else:
            self._event(act.CaseEventKind.CONTINUED, f"run {self.s.run_number} continues")

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, inp: c.CaseInput) -> c.CaseView:
        self._index()
        while not self.s.stage.terminal:
            stage = self.s.stage
            handler = {
                Stage.REMINDING: self._reminding,
                Stage.WAITING: self._waiting,
                Stage.VISIT: self._visit,
                Stage.NEGOTIATING: self._negotiating,
                Stage.FOLLOW_UP: self._follow_up,
                Stage.ESCALATED: self._escalated,
            }[stage]
            await handler()
            if not self.s.stage.terminal and self._history_is_long():
                await self._continue_as_new()
        await self._finish()
        return self._view()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.strategy.continue_as_new_events
        )

    async def _continue_as_new(self) -> None:
        # Let in-flight handlers finish so nothing they did is dropped, then carry everything.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._event(act.CaseEventKind.CONTINUED, "history is long; continuing as a new run")
        await self._flush()
        workflow.continue_as_new(
            c.CaseInput(
                loan=self.loan,
                borrower=self.borrower,
                strategy=self.strategy,
                carried_state=self.s,
                messaging_task_queue=self.messaging_queue,
                search_attributes=self.index_enabled,
            )
        )

    async def _finish(self) -> None:
        if self.s.stage is Stage.LEGAL and self.s.legal_reference is None:
            await self._hand_off_to_legal()
        if self.s.stage in (Stage.RESOLVED, Stage.SETTLED):
            # The read model shows the resolution before the receipt, which may wait for the
            # contact window. Patched: runs recorded before this change flushed only at the end.
            if workflow.patched("flush-before-receipt"):
                await self._flush()
            await self._contact(Channel.SMS, "thank-you", "thank_you", transactional=True)
        self.s.next_action = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._flush()

    # ------------------------------------------------------------------ stages

    async def _reminding(self) -> None:
        steps = self.strategy.reminders
        epoch = self._epoch
        while self.s.reminder_index < len(steps) and epoch == self._epoch:
            i = self.s.reminder_index
            step = steps[i]
            due = self._reminder_time(step.day, step.at)
            following = (
                self._reminder_time(steps[i + 1].day, steps[i + 1].at)
                if i + 1 < len(steps)
                else None
            )
            if following is not None and following <= self._now():
                # The case opened late: only the latest overdue reminder is worth sending.
                self._log_contact(
                    step.channel,
                    f"reminder-{i}",
                    c.ContactOutcome.SKIPPED,
                    reason="the case opened after this reminder's time",
                )
                self.s.reminder_index += 1
                continue
            self.s.next_action = c.NextAction(kind=step.channel.value, at=due)
            if await self._wait_until(due):
                return
            await self._contact(step.channel, f"reminder-{i}", step.template, fallback=True)
            self.s.reminder_index += 1
        if epoch == self._epoch:
            self._enter(Stage.WAITING, "reminder cadence complete")

    async def _waiting(self) -> None:
        entered = self._stage_entered_at()
        until = entered + self._days(self.strategy.wait.days)
        self.s.next_action = c.NextAction(kind="wait_ends", at=until)
        if not await self._wait_until(until):
            self._enter(Stage.VISIT, "no payment or promise after the wait")

    async def _visit(self) -> None:
        epoch = self._epoch
        visit = self._current_visit()
        if visit is None:
            if len(self.s.visits) >= self.strategy.visit.max_visits:
                self._enter(Stage.ESCALATED, "the visit limit of the strategy is reached")
                return
            visit = await self._propose_visit()
            if epoch != self._epoch:
                return
        if not visit.proposal_sent:
            visit.proposal_sent = True
            await self._contact(
                Channel.SMS,
                f"visit-{visit.visit_no}-proposal",
                "visit_proposal",
                extra={"visit_time": localtime.describe(visit.proposed_at, self.borrower.timezone)},
            )
        if epoch != self._epoch:
            return
        if visit.scheduled_at is None:
            await self._await_visit_confirmation(visit)
            return  # the main loop re-enters: a safe point for continue-as-new
        await self._remind_visit(visit)
        if epoch != self._epoch:
            return
        await self._await_visit_outcome(visit)  # one window, then back to the main loop

    def _visit_for_update(self) -> c.VisitRecord:
        visit = self._current_visit()
        if visit is None:  # the validator rules this out; fail the update, not the workflow
            raise ApplicationError("no visit is being arranged", non_retryable=True)
        return visit

    def _current_visit(self) -> c.VisitRecord | None:
        if self.s.visits and self.s.visits[-1].outcome is None:
            return self.s.visits[-1]
        return None

    async def _propose_visit(self) -> c.VisitRecord:
        rules = self.strategy.visit
        proposed = self._at_local_time(self._now() + self._days(rules.notice_days), rules.at)
        visit = c.VisitRecord(
            visit_no=len(self.s.visits) + 1, proposed_at=proposed, opened_at=self._now()
        )
        result = await workflow.execute_activity(
            act.ASSIGN_FIELD_AGENTS,
            act.AssignAgentsInput(
                case_id=self.s.case_id,
                region=self.borrower.region,
                visit_day=localtime.local_date(proposed, self.borrower.timezone),
                count=rules.collectors,
            ),
            result_type=act.AssignAgentsResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )
        # Only now is the visit on record: an operator confirming it sees its collectors.
        self.s.visits.append(visit)
        if len(result.agents) >= rules.collectors:
            visit.collectors = list(result.agents)
            self.s.assigned_agents = list(result.agents)
            self._event(
                act.CaseEventKind.VISIT,
                f"visit {visit.visit_no} proposed; collectors assigned",
                details={
                    "proposed_at": proposed.isoformat(),
                    "collectors": ",".join(result.agents),
                },
            )
            self._index()
        else:
            await self._alert(
                "no_collectors",
                f"Fewer than {rules.collectors} field collectors are free in region "
                f"{self.borrower.region} on {visit.proposed_at.date()}: {result.reason}. "
                "Assign collectors when confirming the visit.",
            )
        return visit

    async def _await_visit_confirmation(self, visit: c.VisitRecord) -> None:
        """One confirmation window; on expiry alert the supervisor and return."""
        window = self._days(self.strategy.visit.confirm_within_days)
        deadline = (visit.last_alert_at or visit.opened_at or self._now()) + window
        self.s.next_action = c.NextAction(kind="confirm_visit", at=deadline)
        if await self._wait_until(deadline, lambda: visit.scheduled_at is not None):
            return
        visit.last_alert_at = self._now()
        await self._alert(
            "visit_unconfirmed",
            f"Visit {visit.visit_no} proposed for {visit.proposed_at.isoformat()} has not "
            "been confirmed by an operator.",
        )

    async def _remind_visit(self, visit: c.VisitRecord) -> None:
        scheduled = visit.scheduled_at
        if scheduled is None or visit.reminder_sent:
            return
        remind_at = scheduled - self._days(self.strategy.visit.reminder_lead_days)
        if remind_at > self._now():
            self.s.next_action = c.NextAction(kind="visit_reminder", at=remind_at)
            if await self._wait_until(remind_at, lambda: visit.scheduled_at != scheduled):
                return
        visit.reminder_sent = True
        await self._contact(
            Channel.SMS,
            f"visit-{visit.visit_no}-reminder",
            "visit_reminder",
            extra={"visit_time": localtime.describe(scheduled, self.borrower.timezone)},
        )

    async def _await_visit_outcome(self, visit: c.VisitRecord) -> None:
        """One outcome window after the slot (or after the last alert); alert on expiry."""
        hours = self.strategy.visit.outcome_within_hours
        window = timedelta(seconds=self.strategy.day_seconds * hours / 24)
        scheduled = visit.scheduled_at or self._now()
        since = (
            visit.last_alert_at
            if visit.last_alert_at and visit.last_alert_at > scheduled
            else scheduled
        )
        deadline = since + window
        self.s.next_action = c.NextAction(kind="visit_outcome", at=deadline)
        if await self._wait_until(
            deadline, lambda: visit.outcome is not None or visit.scheduled_at != scheduled
        ):
            return
        visit.last_alert_at = self._now()
        await self._alert(
            "visit_outcome_missing",
            f"No outcome has been recorded for visit {visit.visit_no} scheduled at "
            f"{scheduled.isoformat()}.",
        )

    async def _negotiating(self) -> None:
        await self._wait_out_pauses()
        deadline = self._now() + self._days(self.strategy.negotiation.decide_within_days)
        self.s.next_action = c.NextAction(kind="negotiation_result", at=deadline)
        if await self._wait_until(deadline):
            return
        await self._alert(
            "negotiation_overdue",
            "No negotiation result was recorded within the strategy's window; escalating.",
        )
        self._enter(Stage.ESCALATED, "no negotiation result in time")

    async def _follow_up(self) -> None:
        """Track one open commitment (promise or installment) to its check, then return."""
        item = self._open_commitment()
        if item is None:
            if self.s.balance > ZERO:
                self._enter(Stage.NEGOTIATING, "commitments met but a balance remains")
            return
        rules = self.strategy.follow_up
        epoch = self._epoch
        if not item.reminded:
            remind_at = item.due_at - self._days(rules.reminder_lead_days)
            self.s.next_action = c.NextAction(kind="commitment_reminder", at=remind_at)
            if remind_at > self._now() and await self._wait_until(remind_at, self._kept(item)):
                if epoch == self._epoch:
                    self._settle_commitment(item)
                return
            if epoch != self._epoch:
                return
            item.reminded = True
            if not self._kept(item)():
                await self._remind_commitment(item, still_needed=lambda: not self._kept(item)())
        check_at = item.due_at + self._days(rules.check_after_days)
        self.s.next_action = c.NextAction(kind="commitment_check", at=check_at)
        await self._wait_until(check_at, self._kept(item))
        if epoch == self._epoch:
            self._settle_commitment(item)

    async def _escalated(self) -> None:
        """Ask the supervisor, then remind every interval; one reminder per call."""
        rules = self.strategy.escalation
        entered = self._stage_entered_at()
        decide_by = entered + self._days(rules.decide_within_days)
        last = self.s.escalation_alert_at
        if last is None or last < entered:
            kind = "escalation_decision"
        else:
            next_reminder = last + self._days(rules.remind_every_days)
            self.s.next_action = c.NextAction(kind="supervisor_decision", at=decide_by)
            if await self._wait_until(next_reminder):
                return
            kind = "escalation_overdue" if self._now() >= decide_by else "escalation_reminder"
        self.s.escalation_alert_at = self._now()
        await self._alert(
            kind,
            f"Case {self.s.case_id} is escalated and needs a supervisor's decision by "
            f"{decide_by.isoformat()} (another visit, settlement, legal or write-off).",
        )

    # ------------------------------------------------------------------ commitments

    def _open_commitment(self) -> c.Installment | c.Promise | None:
        if self.s.plan is not None:
            for inst in self.s.plan.installments:
                if inst.status == "pending":
                    return inst
            return None
        for promise in self.s.promises:
            if promise.status == "pending":
                return promise
        return None

    def _kept(self, item: c.Installment | c.Promise) -> Callable[[], bool]:
        def kept() -> bool:
            if isinstance(item, c.Promise):
                paid_since = self.s.paid_total - item.paid_before
                return paid_since >= item.amount or self.s.balance <= ZERO
            plan = self.s.plan
            if plan is None:
                return False
            due_so_far = sum(
                (i.amount for i in plan.installments if i.index <= item.index), start=ZERO
            )
            return self.s.paid_total - plan.paid_before >= due_so_far or self.s.balance <= ZERO

        return kept

    def _settle_commitment(self, item: c.Installment | c.Promise) -> None:
        label = self._commitment_label(item)
        if self._kept(item)():
            item.status = "kept"
            kind = act.CaseEventKind.PROMISE
            if isinstance(item, c.Installment):
                kind = act.CaseEventKind.INSTALLMENT
            self._event(kind, f"{label} kept")
            if isinstance(item, c.Promise) and item.source == "settlement":
                self._enter(Stage.SETTLED, "settlement amount paid")
            return
        item.status = "broken"
        self.s.broken_count += 1
        self._event(
            act.CaseEventKind.PROMISE,
            f"{label} broken",
            details={"broken": str(self.s.broken_count)},
        )
        rules = self.strategy.follow_up
        if self.s.broken_count >= rules.broken_to_escalate:
            self._enter(Stage.ESCALATED, f"{label} broken; {self.s.broken_count} broken in all")
        elif isinstance(item, c.Promise) and item.source == "ivr":
            self._enter(Stage.VISIT, f"{label} broken; arranging a visit")
        else:
            self._enter(Stage.NEGOTIATING, f"{label} broken; renegotiating")

    def _commitment_label(self, item: c.Installment | c.Promise) -> str:
        if isinstance(item, c.Promise):
            return f"promise {item.seq} ({c.money_str(item.amount)} by {item.due_date})"
        count = len(self.s.plan.installments) if self.s.plan else 0
        return f"installment {item.index}/{count} ({c.money_str(item.amount)} due {item.due_date})"

    async def _remind_commitment(
        self, item: c.Installment | c.Promise, still_needed: Callable[[], bool]
    ) -> None:
        if isinstance(item, c.Promise):
            step, template = f"promise-{item.seq}-reminder", "promise_reminder"
            extra = {"amount": c.money_str(item.amount), "date": item.due_date.isoformat()}
        else:
            plan = self.s.plan
            plan_no = plan.plan_no if plan else 0
            count = len(plan.installments) if plan else 0
            step, template = (
                f"plan-{plan_no}-installment-{item.index}-reminder",
                "installment_reminder",
            )
            extra = {
                "amount": c.money_str(item.amount),
                "date": item.due_date.isoformat(),
                "index": str(item.index),
                "count": str(count),
            }
        await self._contact(Channel.SMS, step, template, extra=extra, still_needed=still_needed)

    # ------------------------------------------------------------------ contact

    async def _contact(
        self,
        channel: Channel,
        step: str,
        template: str,
        *,
        fallback: bool = False,
        transactional: bool = False,
        extra: dict[str, str] | None = None,
        still_needed: Callable[[], bool] | None = None,
    ) -> bool:
        """Send one message through the gate. True when something went out.

        ``still_needed`` is asked again after every deferral: a reminder for an installment
        paid while it waited for the contact window is dropped, not sent.
        """
        epoch = self._epoch
        if not transactional:
            await self._wait_out_pauses()  # disputes and hardship pause contact, not drop it
            if self._epoch != epoch:
                return False
        while True:
            decision = compliance.decide(self._gate_context(channel, transactional))
            if decision.verdict is compliance.Verdict.BLOCK:
                self._log_contact(channel, step, c.ContactOutcome.BLOCKED, reason=decision.reason)
                return False
            if decision.verdict is compliance.Verdict.SEND:
                break
            until = decision.until or self._now()
            self._log_contact(
                channel, step, c.ContactOutcome.DEFERRED, reason=decision.reason, until=until
            )
            self.s.next_action = c.NextAction(kind=channel.value, at=until)
            changed = await self._wait_until(
                until,
                lambda: self.s.dispute_open or (still_needed is not None and not still_needed()),
            )
            if self._epoch != epoch and not transactional:
                return False
            if changed and self.s.dispute_open:
                await self._wait_out_pauses()
            if still_needed is not None and not still_needed():
                self._log_contact(
                    channel, step, c.ContactOutcome.SKIPPED, reason="no longer needed"
                )
                return False
        result = await self._send(channel, step, template, extra or {}, epoch, transactional)
        self._log_contact(
            channel, step, result.outcome, reason=result.reason, sid=result.provider_sid
        )
        if result.outcome is c.ContactOutcome.REJECTED:
            if channel is Channel.SMS and result.error_code == "21610":
                self._set_opt_out(Channel.SMS, True, "provider reports the number unsubscribed")
            if fallback:
                other = FALLBACK[channel]
                return await self._contact(
                    other, f"{step}-fallback", self._fallback_template(other, template), extra=extra
                )
            return False
        return result.outcome is not c.ContactOutcome.UNKNOWN

    def _fallback_template(self, channel: Channel, template: str) -> str:
        if channel is Channel.CALL:
            return next(
                (r.template for r in self.strategy.reminders if r.channel is Channel.CALL), template
            )
        return next(
            (r.template for r in self.strategy.reminders if r.channel is Channel.SMS), template
        )

    async def _send(
        self,
        channel: Channel,
        step: str,
        template: str,
        extra: dict[str, str],
        epoch: int,
        transactional: bool,
    ) -> act.ContactResult:
        key = f"{self.s.case_id}/{step}"
        text = render(self.strategy.templates[template], self.borrower.locale, self._fields(extra))
        common = {
            "key": key,
            "case_id": self.s.case_id,
            "loan_id": self.s.loan_id,
            "to": self.borrower.phone,
            "purpose": step,
            "locale": self.borrower.locale,
        }
        name, arg = (
            (act.SEND_SMS, act.SendSmsInput(body=text, **common))
            if channel is Channel.SMS
            else (act.PLACE_CALL, act.PlaceCallInput(message=text, **common))
        )
        handle = workflow.start_activity(
            name,
            arg,
            result_type=act.ContactResult,
            task_queue=self.messaging_queue,
            start_to_close_timeout=timedelta(seconds=30),
            # A reminder that cannot go out within the hour is dropped, not sent late.
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=CONTACT_RETRY,
            # On cancel, wait for the server's word: an attempt already running finishes and
            # reports what it sent; one waiting out a retry backoff is dropped.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

        def overtaken() -> bool:
            """While the provider is being retried the case may move on: paid, paused,
            opted out. Then the send is abandoned rather than delivered late."""
            moved = self._epoch != epoch or self.s.dispute_open
            return (moved and not transactional) or self._contact_forbidden(channel)

        await workflow.wait_condition(lambda: handle.done() or overtaken())
        if not handle.done():
            handle.cancel()
        try:
            result: act.ContactResult = await handle
            return result
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                return act.ContactResult(
                    outcome=c.ContactOutcome.SKIPPED,
                    reason="dropped while waiting to retry the provider: the case moved on",
                )
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == act.ERROR_CONTACT_REJECTED:
                code = str(cause.details[0]) if cause.details else None
                return act.ContactResult(
                    outcome=c.ContactOutcome.REJECTED, error_code=code, reason=cause.message
                )
            return act.ContactResult(
                outcome=c.ContactOutcome.FAILED,
                reason=f"provider unavailable; not retried further: {cause or err}",
            )

    def _contact_forbidden(self, channel: Channel) -> bool:
        return self.s.cease_contact or channel in self.s.opted_out

    def _fields(self, extra: dict[str, str]) -> dict[str, str]:
        company = self.strategy.company_name
        if self.borrower.locale == "zh-CN":
            company = self.strategy.company_name_zh
        return {
            "name": self.borrower.name,
            "company": company,
            "amount": c.money_str(self.s.balance),
            "currency": self.s.currency,
            "due_date": self.s.due_date.isoformat(),
            "days": str(self.strategy.negotiation.promise_within_days),
            **extra,
        }

    def _gate_context(self, channel: Channel, transactional: bool) -> compliance.ContactContext:
        consent = self.borrower.consent
        return compliance.ContactContext(
            channel=channel,
            at=self._now(),
            timezone=self.borrower.timezone,
            rules=self.strategy.compliance,
            day_seconds=self.strategy.day_seconds,
            log=self.s.contact_log,
            consent=frozenset(
                ch for ch, ok in ((Channel.SMS, consent.sms), (Channel.CALL, consent.call)) if ok
            ),
            opted_out=frozenset(self.s.opted_out),
            cease_contact=self.s.cease_contact,
            dispute_open=self.s.dispute_open,
            hardship_until=self.s.hardship_until,
            terminal=self.s.stage.terminal,
            transactional=transactional,
        )

    def _log_contact(
        self,
        channel: Channel,
        step: str,
        outcome: c.ContactOutcome,
        *,
        reason: str = "",
        until: datetime | None = None,
        sid: str | None = None,
    ) -> None:
        record = c.ContactRecord(
            key=f"{self.s.case_id}/{step}",
            channel=channel,
            purpose=step,
            at=self._now(),
            outcome=outcome,
            reason=reason,
            until=until,
            provider_sid=sid,
        )
        self.s.contact_log.append(record)
        words = {
            c.ContactOutcome.DEFERRED: f"deferred until {until.isoformat() if until else '?'}",
            c.ContactOutcome.BLOCKED: "blocked",
        }
        summary = f"{channel.value} {step}: {words.get(outcome, outcome.value)}"
        if reason:
            summary += f" ({reason})"
        details = {"channel": channel.value, "step": step, "outcome": outcome.value}
        if until:
            details["until"] = until.isoformat()
        if reason:
            details["reason"] = reason
        self._event(act.CaseEventKind.CONTACT, summary, details=details)
        self._count("collectflow_contacts", channel=channel.value, outcome=outcome.value)
        workflow.logger.info("contact %s", summary, extra={"case_id": self.s.case_id})

    async def _alert(self, kind: str, message: str) -> None:
        self.s.alerts_sent += 1  # numbers every alert of the case: the idempotency key
        self._event(act.CaseEventKind.ALERT, message, details={"kind": kind})
        await workflow.execute_activity(
            act.NOTIFY_SUPERVISOR,
            act.SupervisorAlert(
                key=f"{self.s.case_id}/alert-{self.s.alerts_sent}",
                case_id=self.s.case_id,
                loan_id=self.s.loan_id,
                kind=kind,
                message=message,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )

    async def _hand_off_to_legal(self) -> None:
        approver = next(
            (h.actor for h in reversed(self.s.stage_history) if h.stage is Stage.LEGAL),
            SYSTEM_ACTOR,
        )
        await self._flush()
        result = await workflow.execute_activity(
            act.HAND_OFF_TO_LEGAL,
            act.LegalHandoffInput(
                case_id=self.s.case_id,
                loan=self.loan,
                borrower=self.borrower,
                balance=self.s.balance,
                days_past_due=self._dpd(),
                approved_by=approver,
            ),
            result_type=act.LegalHandoffResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RECORD_RETRY,
        )
        self.s.legal_reference = result.reference
        self._event(
            act.CaseEventKind.ESCALATION,
            f"case file handed to legal ({result.reference})",
            actor=approver,
        )

    # ------------------------------------------------------------------ waiting and time

    async def _wait_until(
        self, until: datetime | None, done: Callable[[], bool] | None = None
    ) -> bool:
        """Sleep until ``until``; True early when ``done`` holds or the stage moves."""
        epoch = self._epoch

        def interrupted() -> bool:
            return self._epoch != epoch or (done is not None and done())

        while True:
            if interrupted():
                return True
            await self._flush()
            if interrupted():
                return True
            remaining = None if until is None else until - self._now()
            if remaining is not None and remaining <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: interrupted() or bool(self._events), timeout=remaining
                )
            except TimeoutError:
                return interrupted()

    async def _wait_out_pauses(self) -> None:
        """Hold while a dispute is open (no end) or a hardship pause runs (until its end)."""
        epoch = self._epoch
        while self._epoch == epoch:
            if self.s.dispute_open:
                self.s.next_action = c.NextAction(kind="dispute_resolution")
                await self._wait_until(None, lambda: not self.s.dispute_open)
                continue
            if self.s.hardship_until and self.s.hardship_until > self._now():
                end = self.s.hardship_until
                self.s.next_action = c.NextAction(kind="hardship_ends", at=end)
                await self._wait_until(end, self._hardship_changed_from(end))
                continue
            return

    def _hardship_changed_from(self, end: datetime) -> Callable[[], bool]:
        return lambda: self.s.hardship_until != end

    def _now(self) -> datetime:
        return workflow.now()

    def _days(self, days: float) -> timedelta:
        return timedelta(seconds=self.strategy.day_seconds * days)

    @property
    def _real_days(self) -> bool:
        return self.strategy.day_seconds == 86_400

    def _anchor(self) -> datetime:
        """D+0: the due date's local midnight, or the opening for compressed strategies."""
        if self._real_days:
            return localtime.local_midnight(self.s.due_date, self.borrower.timezone)
        return self.s.opened_at

    def _reminder_time(self, day: int, at: time | None) -> datetime:
        return self._at_local_time(self._anchor() + self._days(day), at)

    def _at_local_time(self, when: datetime, at: time | None) -> datetime:
        if at is None or not self._real_days:
            return when
        return localtime.local_to_utc(
            localtime.local_date(when, self.borrower.timezone), at, self.borrower.timezone
        )

    def _dpd(self) -> int:
        if self._real_days:
            today = localtime.local_date(self._now(), self.borrower.timezone)
            return max(0, (today - self.s.due_date).days)
        elapsed = (self._now() - self.s.opened_at).total_seconds()
        return int(elapsed // self.strategy.day_seconds)

    def _local_today(self) -> date:
        return localtime.local_date(self._now(), self.borrower.timezone)

    def _due_at(self, days_from_today: int) -> tuple[datetime, date]:
        """A commitment due ``n`` strategy days out: the end of that local day, or now + n."""
        if self._real_days:
            due_date = self._local_today() + timedelta(days=days_from_today)
            end = localtime.local_midnight(due_date + timedelta(days=1), self.borrower.timezone)
            return end, due_date
        due_at = self._now() + self._days(days_from_today)
        return due_at, localtime.local_date(due_at, self.borrower.timezone)

    def _days_until(self, day: date) -> int:
        return (day - self._local_today()).days

    def _stage_entered_at(self) -> datetime:
        return self.s.stage_history[-1].at if self.s.stage_history else self._now()

    # ------------------------------------------------------------------ state changes

    def _count(self, name: str, **labels: str) -> None:
        """Bump a counter on the worker's metrics endpoint; the SDK skips it during replay."""
        workflow.metric_meter().create_counter(name).add(1, labels)

    def _enter(self, stage: Stage, reason: str, actor: Actor = SYSTEM_ACTOR) -> None:
        self._count("collectflow_stage_transitions", stage=stage.value)
        previous = self.s.stage
        self.s.stage = stage
        self._epoch += 1
        self.s.next_action = None
        if stage.terminal:
            self.s.terminal_reason = reason
        self.s.stage_history.append(
            c.StageChange(at=self._now(), stage=stage, reason=reason, actor=actor)
        )
        self._event(
            act.CaseEventKind.CLOSED if stage.terminal else act.CaseEventKind.STAGE,
            f"{previous.value} -> {stage.value}: {reason}",
            actor=actor,
            details={"from": previous.value, "to": stage.value},
        )
        self._index()

    def _event(
        self,
        kind: act.CaseEventKind,
        summary: str,
        *,
        actor: Actor = SYSTEM_ACTOR,
        details: dict[str, str] | None = None,
    ) -> None:
        self.s.event_seq += 1
        self._events.append(
            act.CaseEvent(
                seq=self.s.event_seq,
                at=self._now(),
                stage=self.s.stage,
                kind=kind,
                actor=actor,
                summary=summary,
                details=details or {},
            )
        )

    async def _flush(self) -> None:
        """Send pending events and the current figures to the read model (one activity)."""
        if not self._events:
            return
        events, self._events = self._events, []
        if self._dpd() != self.s.days_past_due:
            self.s.days_past_due = self._dpd()
            self._index()  # keeps DaysPastDue fresh for list filters without extra timers
        await workflow.execute_activity(
            act.SYNC_CASE,
            act.CaseProjection(
                case_id=self.s.case_id,
                loan_id=self.s.loan_id,
                borrower_id=self.borrower.id,
                region=self.borrower.region,
                stage=self.s.stage,
                currency=self.s.currency,
                amount_overdue=self.s.amount_overdue,
                balance=self.s.balance,
                days_past_due=self.s.days_past_due,
                strategy=self.s.strategy,
                next_action=self.s.next_action,
                assigned_agents=self.s.assigned_agents,
                visits=self.s.visits,
                plan=self.s.plan,
                promises=self.s.promises,
                negotiations=self.s.negotiations,
                payments=self.s.payments,
                events=events,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )

    def _index(self) -> None:
        if not self.index_enabled:
            return
        workflow.upsert_search_attributes(
            [
                SA_STAGE.value_set(self.s.stage.value),
                SA_DPD.value_set(self._dpd()),
                SA_REGION.value_set(self.borrower.region),
                SA_AGENTS.value_set(list(self.s.assigned_agents)),
                SA_BALANCE.value_set(float(self.s.balance)),
                SA_STRATEGY.value_set(self.strategy.id),
            ]
        )

    def _apply_payment(self, inp: c.PaymentInput) -> None:
        if any(p.payment_ref == inp.payment_ref for p in self.s.payments):
            return  # the same payment delivered again: counted once
        self.s.payments.append(
            c.PaymentRecord(
                payment_ref=inp.payment_ref,
                amount=inp.amount,
                paid_at=inp.paid_at,
                recorded_at=self._now(),
                actor=inp.actor,
            )
        )
        self.s.paid_total += inp.amount
        self._count("collectflow_payments")
        self.s.balance = max(ZERO, self.s.amount_overdue - self.s.paid_total)
        self._event(
            act.CaseEventKind.PAYMENT,
            f"payment {inp.payment_ref} of {c.money_str(inp.amount)}; "
            f"balance {c.money_str(self.s.balance)}",
            actor=inp.actor,
            details={
                "payment_ref": inp.payment_ref,
                "amount": c.money_str(inp.amount),
                "balance": c.money_str(self.s.balance),
            },
        )
        self._after_balance_change(inp.actor)

    def _after_balance_change(self, actor: Actor) -> None:
        if self.s.stage.terminal:
            return
        if self.s.balance <= ZERO:
            self._enter(Stage.RESOLVED, "paid in full", actor)
            return
        settlement = self.s.settlement_amount
        if settlement is not None and self.s.paid_total >= settlement:
            self._enter(Stage.SETTLED, "settlement amount paid", actor)
            return
        self._index()

    def _set_opt_out(
        self, channel: Channel, opted_out: bool, why: str, actor: Actor = SYSTEM_ACTOR
    ) -> None:
        present = channel in self.s.opted_out
        if opted_out and not present:
            self.s.opted_out.append(channel)
        elif not opted_out and present:
            self.s.opted_out.remove(channel)
        else:
            return
        verb = "opted out of" if opted_out else "opted back in to"
        self._event(
            act.CaseEventKind.PREFERENCE,
            f"borrower {verb} {channel.value}: {why}",
            actor=actor,
            details={"channel": channel.value, "opted_out": str(opted_out)},
        )

    def _record_promise(
        self,
        amount: Decimal,
        days: int,
        source: Literal["negotiation", "ivr", "settlement"],
        actor: Actor,
    ) -> c.Promise:
        due_at, due_date = self._due_at(days)
        promise = c.Promise(
            seq=len(self.s.promises) + 1,
            due_at=due_at,
            due_date=due_date,
            amount=amount,
            source=source,
            paid_before=self.s.paid_total,
        )
        self.s.promises.append(promise)
        self._event(
            act.CaseEventKind.PROMISE,
            f"promise {promise.seq}: {c.money_str(amount)} by {due_date} ({source})",
            actor=actor,
            details={"amount": c.money_str(amount), "due_date": due_date.isoformat()},
        )
        return promise

    def _view(self) -> c.CaseView:
        data = self.s.model_dump()
        data["days_past_due"] = self._dpd()
        return c.CaseView(
            **data,
            contact_counts_by_kind=self.s.contact_counts,
            region=self.borrower.region,
            terminal=self.s.stage.terminal,
        )

    # ------------------------------------------------------------------ query

    @workflow.query(name=c.QUERY_STATE)
    def state(self) -> c.CaseView:
        return self._view()

    # ------------------------------------------------------------------ validators' helpers

    def _require_open(self) -> None:
        if self.s.stage.terminal:
            raise ValueError(
                f"Case {self.s.case_id} is closed ({self.s.stage.value}: "
                f"{self.s.terminal_reason}); it accepts no further actions. "
                "Open a new case through a new overdue event if the loan falls overdue again."
            )

    def _require_stage(self, action: str, *stages: Stage) -> None:
        self._require_open()
        if self.s.stage not in stages:
            allowed = " or ".join(s.value for s in stages)
            raise ValueError(
                f"Cannot {action}: the case is in stage '{self.s.stage.value}', and this is "
                f"only possible in stage '{allowed}'."
            )

    @staticmethod
    def _require_role(actor: Actor, action: ActionName) -> None:
        if actor.role not in ACTIONS[action].roles:
            raise ValueError(role_refusal(actor.role, action))

    # ------------------------------------------------------------------ updates

    @workflow.update(name=c.UPDATE_PAYMENT)
    def record_payment(self, inp: c.PaymentInput) -> c.CaseView:
        self._apply_payment(inp)
        return self._view()

    @record_payment.validator
    def _validate_payment(self, inp: c.PaymentInput) -> None:
        self._require_role(inp.actor, ActionName.PAYMENT)
        if inp.actor.role is Role.SUPERVISOR and not inp.receipt_ref:
            raise ValueError(
                "A supervisor's manual payment needs 'receipt_ref', the receipt it was taken on."
            )
        if any(p.payment_ref == inp.payment_ref for p in self.s.payments):
            return  # idempotent replay of an accepted payment
        self._require_open()

    @workflow.update(name=c.UPDATE_SCHEDULE_VISIT)
    def schedule_visit(self, inp: c.ScheduleVisitInput) -> c.CaseView:
        visit = self._visit_for_update()
        if inp.collectors:
            visit.collectors = list(dict.fromkeys(inp.collectors))
            self.s.assigned_agents = list(visit.collectors)
        visit.scheduled_at = inp.at
        visit.scheduled_by = inp.actor
        visit.reminder_sent = False
        self._event(
            act.CaseEventKind.VISIT,
            f"visit {visit.visit_no} scheduled for {inp.at.isoformat()} with "
            f"{', '.join(visit.collectors)}",
            actor=inp.actor,
            details={"scheduled_at": inp.at.isoformat(), "collectors": ",".join(visit.collectors)},
        )
        self._index()
        return self._view()

    @schedule_visit.validator
    def _validate_schedule_visit(self, inp: c.ScheduleVisitInput) -> None:
        self._require_role(inp.actor, ActionName.SCHEDULE_VISIT)
        self._require_stage("schedule a visit", Stage.VISIT)
        visit = self._current_visit()
        if visit is None:
            raise ValueError("Cannot schedule a visit: no visit is being arranged right now.")
        if inp.at <= self._now():
            raise ValueError("Cannot schedule a visit in the past; choose a future time.")
        collectors = set(inp.collectors) or set(visit.collectors)
        needed = self.strategy.visit.collectors
        if len(collectors) < needed:
            raise ValueError(
                f"A field visit needs at least {needed} collectors (conduct rules); "
                f"{len(collectors)} given. Pass 'collectors'."
            )
        local = localtime.to_local(inp.at, self.borrower.timezone).time()
        rules = self.strategy.compliance
        if not rules.window_start <= local < rules.window_end:
            raise ValueError(
                f"A visit at {local.strftime('%H:%M')} borrower time is outside the contact "
                f"hours {rules.window_start.strftime('%H:%M')}-"
                f"{rules.window_end.strftime('%H:%M')}."
            )

    @workflow.update(name=c.UPDATE_RECORD_VISIT)
    def record_visit(self, inp: c.RecordVisitInput) -> c.CaseView:
        visit = self._visit_for_update()
        visit.outcome = inp.outcome
        visit.notes = inp.notes
        visit.recorded_by = inp.actor
        self._event(
            act.CaseEventKind.VISIT,
            f"visit {visit.visit_no} outcome: {inp.outcome.value}",
            actor=inp.actor,
            details={"outcome": inp.outcome.value, "notes": inp.notes},
        )
        next_stage = {
            c.VisitOutcome.MET: Stage.NEGOTIATING,
            c.VisitOutcome.NOT_HOME: Stage.VISIT,
        }.get(inp.outcome, Stage.ESCALATED)
        self._enter(next_stage, f"visit outcome {inp.outcome.value}", inp.actor)
        return self._view()

    @record_visit.validator
    def _validate_record_visit(self, inp: c.RecordVisitInput) -> None:
        self._require_role(inp.actor, ActionName.VISIT_OUTCOME)
        self._require_stage("record a visit outcome", Stage.VISIT)
        visit = self._current_visit()
        if visit is None or visit.scheduled_at is None:
            raise ValueError(
                "Cannot record a visit outcome: no visit has been scheduled yet; schedule it first."
            )

    @workflow.update(name=c.UPDATE_NEGOTIATION)
    def record_negotiation(self, inp: c.NegotiationInput) -> c.CaseView:
        record = c.NegotiationRecord(
            seq=len(self.s.negotiations) + 1,
            at=self._now(),
            actor=inp.actor,
            reason=inp.reason,
            monthly_income=inp.monthly_income,
            essential_expenses=inp.essential_expenses,
            result=inp.result,
            details={"notes": inp.notes} if inp.notes else {},
        )
        self.s.negotiations.append(record)
        self._event(
            act.CaseEventKind.NEGOTIATION,
            f"negotiation {record.seq}: reason {inp.reason.value}, result {inp.result.value}",
            actor=inp.actor,
            details={"reason": inp.reason.value, "result": inp.result.value},
        )
        result = inp.result
        if result is c.NegotiationResult.PROMISE and inp.promise:
            days = self._promise_days(inp.promise)
            self.s.plan = None
            self._record_promise(inp.promise.amount, days, "negotiation", inp.actor)
            self._enter(Stage.FOLLOW_UP, "promise to pay agreed", inp.actor)
        elif result is c.NegotiationResult.INSTALLMENT_PLAN and inp.plan:
            self._start_plan(inp.plan, inp.actor)
            self._enter(Stage.FOLLOW_UP, "installment plan agreed", inp.actor)
        elif result is c.NegotiationResult.HARDSHIP_GRACE and inp.grace_days:
            self._grant_grace(inp.grace_days, inp.actor, "hardship grace agreed in negotiation")
            self._epoch += 1  # restart the negotiation wait after the grace period
        elif result is c.NegotiationResult.DISPUTE:
            self._open_dispute(inp.actor, inp.notes or "disputed during negotiation")
        else:
            self._enter(Stage.ESCALATED, "borrower refused to pay", inp.actor)
        return self._view()

    @record_negotiation.validator
    def _validate_negotiation(self, inp: c.NegotiationInput) -> None:
        self._require_role(inp.actor, ActionName.NEGOTIATION)
        self._require_stage("record a negotiation", Stage.NEGOTIATING)
        rules = self.strategy.negotiation
        if inp.result is c.NegotiationResult.PROMISE and inp.promise:
            days = self._promise_days(inp.promise)
            if not 0 <= days <= rules.promise_within_days:
                raise ValueError(
                    f"A promise must fall within {rules.promise_within_days} days; it was "
                    f"proposed {days} days out."
                )
            if inp.promise.amount > self.s.balance:
                raise ValueError(
                    f"The promised amount {inp.promise.amount} exceeds the balance "
                    f"{c.money_str(self.s.balance)} {self.s.currency}."
                )
        if inp.result is c.NegotiationResult.INSTALLMENT_PLAN and inp.plan:
            problem = installments.plan_problem(
                self.s.balance,
                inp.plan.count,
                self._plan_first_days(inp.plan),
                rules,
                self.s.currency,
            )
            if problem:
                raise ValueError(problem)
        if inp.result is c.NegotiationResult.HARDSHIP_GRACE and inp.grace_days:
            self._check_grace(inp.grace_days)

    def _promise_days(self, terms: c.PromiseTerms) -> int:
        if terms.due_in_days is not None:
            return terms.due_in_days
        return self._days_until(terms.due_date) if terms.due_date else 0

    def _plan_first_days(self, terms: c.PlanTerms) -> int:
        if terms.first_due_in_days is not None:
            return terms.first_due_in_days
        return self._days_until(terms.first_due) if terms.first_due else 0

    def _start_plan(self, terms: c.PlanTerms, actor: Actor) -> None:
        if self.s.plan is not None:
            self.s.past_plans.append(self.s.plan)
        amounts = installments.split_installments(self.s.balance, terms.count)
        first = self._plan_first_days(terms)
        items = []
        for index, amount in enumerate(amounts, start=1):
            due_at, due_date = self._due_at(first + (index - 1) * terms.frequency_days)
            items.append(
                c.Installment(index=index, due_at=due_at, due_date=due_date, amount=amount)
            )
        plan_no = len(self.s.past_plans) + 1
        self.s.plan = c.InstallmentPlan(
            plan_no=plan_no,
            frequency_days=terms.frequency_days,
            total=self.s.balance,
            paid_before=self.s.paid_total,
            created_at=self._now(),
            installments=items,
        )
        self._event(
            act.CaseEventKind.NEGOTIATION,
            f"installment plan {plan_no}: {terms.count} x ~{c.money_str(amounts[0])} every "
            f"{terms.frequency_days} days from {items[0].due_date}",
            actor=actor,
            details={"count": str(terms.count), "total": c.money_str(self.s.balance)},
        )

    def _check_grace(self, days: int) -> None:
        rules = self.strategy.negotiation
        if days > rules.max_grace_days:
            raise ValueError(
                f"A hardship grace period is at most {rules.max_grace_days} days; {days} asked."
            )
        if self.s.graces_used >= rules.max_graces:
            raise ValueError(
                f"This case has already had {self.s.graces_used} hardship grace periods, the "
                f"most the strategy allows."
            )

    def _grant_grace(self, days: int, actor: Actor, reason: str) -> None:
        self.s.graces_used += 1
        self.s.hardship_until = self._now() + self._days(days)
        self._event(
            act.CaseEventKind.HARDSHIP,
            f"hardship pause of {days} days until {self.s.hardship_until.isoformat()}: {reason}",
            actor=actor,
            details={"days": str(days), "until": self.s.hardship_until.isoformat()},
        )

    @workflow.update(name=c.UPDATE_HARDSHIP)
    def request_hardship(self, inp: c.HardshipInput) -> c.CaseView:
        self._grant_grace(inp.days, inp.actor, inp.reason or "hardship reported")
        return self._view()

    @request_hardship.validator
    def _validate_hardship(self, inp: c.HardshipInput) -> None:
        self._require_role(inp.actor, ActionName.HARDSHIP)
        self._require_open()
        self._check_grace(inp.days)

    def _open_dispute(self, actor: Actor, reason: str) -> None:
        self.s.dispute_open = True
        self._event(
            act.CaseEventKind.DISPUTE,
            f"dispute opened: {reason}",
            actor=actor,
            details={"reason": reason},
        )

    @workflow.update(name=c.UPDATE_DISPUTE)
    def dispute(self, inp: c.DisputeInput) -> c.CaseView:
        if inp.action == "open":
            self._open_dispute(inp.actor, inp.reason or "borrower disputes the debt")
            return self._view()
        self.s.dispute_open = False
        self._event(
            act.CaseEventKind.DISPUTE,
            f"dispute resolved ({inp.resolution}): {inp.reason}",
            actor=inp.actor,
            details={"resolution": str(inp.resolution)},
        )
        if inp.resolution == "upheld":
            if inp.corrected_amount is not None:
                self.s.amount_overdue = inp.corrected_amount
                self.s.balance = max(ZERO, inp.corrected_amount - self.s.paid_total)
                self._after_balance_change(inp.actor)
            else:
                self._enter(Stage.CLOSED, "dispute upheld: the debt is not owed", inp.actor)
        return self._view()

    @dispute.validator
    def _validate_dispute(self, inp: c.DisputeInput) -> None:
        self._require_role(inp.actor, ActionName.DISPUTE)
        if (
            inp.corrected_amount is not None
            and inp.actor.role not in ACTIONS[ActionName.AMOUNT_UPDATE].roles
        ):
            raise ValueError(
                "Only a supervisor may correct the amount owed; an operator requests a "
                "correction for a supervisor to approve."
            )
        self._require_open()
        if inp.action == "open" and self.s.dispute_open:
            raise ValueError("A dispute is already open on this case.")
        if inp.action == "resolve":
            if not self.s.dispute_open:
                raise ValueError("There is no open dispute to resolve.")
            if inp.resolution is None:
                raise ValueError("Resolving a dispute needs 'resolution': upheld or rejected.")

    @workflow.update(name=c.UPDATE_NOTE)
    def add_note(self, inp: c.NoteInput) -> c.CaseView:
        self.s.notes.append(c.Note(at=self._now(), actor=inp.actor, text=inp.text))
        self._event(act.CaseEventKind.NOTE, inp.text, actor=inp.actor)
        return self._view()

    @add_note.validator
    def _validate_note(self, inp: c.NoteInput) -> None:
        self._require_role(inp.actor, ActionName.NOTE)
        self._require_open()

    @workflow.update(name=c.UPDATE_CEASE_CONTACT)
    def cease_contact(self, inp: c.CeaseContactInput) -> c.CaseView:
        self.s.cease_contact = True
        self._event(
            act.CaseEventKind.PREFERENCE,
            f"cease-contact requested: {inp.reason or 'no reason given'}",
            actor=inp.actor,
        )
        return self._view()

    @cease_contact.validator
    def _validate_cease(self, inp: c.CeaseContactInput) -> None:
        self._require_role(inp.actor, ActionName.CEASE_CONTACT)
        self._require_open()
        if self.s.cease_contact:
            raise ValueError("Cease-contact is already in force on this case.")

    @workflow.update(name=c.UPDATE_ESCALATION)
    def decide_escalation(self, inp: c.EscalationInput) -> c.CaseView:
        decision = inp.decision
        self._event(
            act.CaseEventKind.ESCALATION,
            f"supervisor decided: {decision.value}",
            actor=inp.actor,
            details={"decision": decision.value, "notes": inp.notes},
        )
        if decision is c.EscalationDecision.ANOTHER_VISIT:
            self._enter(Stage.VISIT, "supervisor ordered another visit", inp.actor)
        elif decision is c.EscalationDecision.SETTLEMENT and inp.settlement_amount:
            self.s.settlement_amount = inp.settlement_amount
            self.s.plan = None
            days = self.strategy.negotiation.promise_within_days
            still_due = inp.settlement_amount - self.s.paid_total
            self._record_promise(still_due, days, "settlement", inp.actor)
            self._enter(Stage.FOLLOW_UP, "settlement offered", inp.actor)
        elif decision is c.EscalationDecision.LEGAL:
            self._enter(Stage.LEGAL, "supervisor approved legal action", inp.actor)
        else:
            self._enter(Stage.WRITTEN_OFF, "supervisor wrote the balance off", inp.actor)
        return self._view()

    @decide_escalation.validator
    def _validate_escalation(self, inp: c.EscalationInput) -> None:
        self._require_role(inp.actor, ActionName.ESCALATION)
        self._require_stage("decide an escalation", Stage.ESCALATED)
        if inp.decision is c.EscalationDecision.LEGAL:
            dpd, needed = self._dpd(), self.strategy.escalation.legal_min_dpd
            if dpd < needed:
                raise ValueError(
                    f"Legal action needs at least {needed} days past due; this loan is "
                    f"{dpd} days past due."
                )
        if inp.decision is c.EscalationDecision.SETTLEMENT:
            if inp.settlement_amount is None:
                raise ValueError("A settlement needs 'settlement_amount'.")
            if inp.settlement_amount >= self.s.amount_overdue:
                raise ValueError(
                    "A settlement amount must be less than the amount overdue "
                    f"({c.money_str(self.s.amount_overdue)} {self.s.currency})."
                )
            if inp.settlement_amount <= self.s.paid_total:
                raise ValueError(
                    f"The settlement amount must exceed what is already paid "
                    f"({c.money_str(self.s.paid_total)} {self.s.currency})."
                )

    @workflow.update(name=c.UPDATE_CLOSE)
    def close_case(self, inp: c.CloseInput) -> c.CaseView:
        self._enter(Stage.CLOSED, f"{inp.reason.value}: {inp.notes}".rstrip(": "), inp.actor)
        return self._view()

    @close_case.validator
    def _validate_close(self, inp: c.CloseInput) -> None:
        self._require_role(inp.actor, ActionName.CLOSE)
        self._require_open()

    @workflow.update(name=c.UPDATE_REASSIGN)
    def reassign_agents(self, inp: c.ReassignInput) -> c.CaseView:
        self.s.assigned_agents = list(dict.fromkeys(inp.agents))
        visit = self._current_visit()
        if visit is not None:
            visit.collectors = list(self.s.assigned_agents)
        self._event(
            act.CaseEventKind.NOTE,
            f"agents reassigned: {', '.join(inp.agents)}",
            actor=inp.actor,
            details={"agents": ",".join(inp.agents)},
        )
        self._index()
        return self._view()

    @reassign_agents.validator
    def _validate_reassign(self, inp: c.ReassignInput) -> None:
        self._require_role(inp.actor, ActionName.REASSIGN)
        self._require_open()

    # ------------------------------------------------------------------ signals

    @workflow.signal(name=c.SIGNAL_PAYMENT)
    def payment_received(self, inp: c.PaymentInput) -> None:
        if self.s.stage.terminal and not any(
            p.payment_ref == inp.payment_ref for p in self.s.payments
        ):
            # Money is never dropped: a late payment is recorded even on a closed case.
            self.s.payments.append(
                c.PaymentRecord(
                    payment_ref=inp.payment_ref,
                    amount=inp.amount,
                    paid_at=inp.paid_at,
                    recorded_at=self._now(),
                    actor=inp.actor,
                )
            )
            self.s.paid_total += inp.amount
            self._event(
                act.CaseEventKind.PAYMENT,
                f"late payment {inp.payment_ref}",
                actor=inp.actor,
                details={"amount": c.money_str(inp.amount)},
            )
            return
        self._apply_payment(inp)

    @workflow.signal(name=c.SIGNAL_AMOUNT)
    def amount_updated(self, inp: c.AmountUpdate) -> None:
        if self.s.stage.terminal or inp.amount_overdue == self.s.amount_overdue:
            return
        old = self.s.amount_overdue
        self.s.amount_overdue = inp.amount_overdue
        self.s.balance = max(ZERO, inp.amount_overdue - self.s.paid_total)
        self._event(
            act.CaseEventKind.AMOUNT,
            f"amount overdue {c.money_str(old)} -> {c.money_str(inp.amount_overdue)}",
            actor=inp.actor,
            details={"old": c.money_str(old), "new": c.money_str(inp.amount_overdue)},
        )
        self._after_balance_change(inp.actor)

    @workflow.signal(name=c.SIGNAL_CONTACT_STATUS)
    def contact_status(self, inp: c.ContactStatusEvent) -> None:
        record = self._record_by_sid(inp.provider_sid)
        if record is None:
            return
        status = inp.status.lower()
        if record.channel is Channel.SMS:
            mapped = {
                "delivered": c.ContactOutcome.DELIVERED,
                "undelivered": c.ContactOutcome.UNDELIVERED,
                "failed": c.ContactOutcome.FAILED,
            }.get(status)
        elif status == "completed" and (inp.duration_seconds or 0) > 0:
            mapped = c.ContactOutcome.ANSWERED
            record.connected = True
        else:
            mapped = {
                "no-answer": c.ContactOutcome.UNANSWERED,
                "busy": c.ContactOutcome.UNANSWERED,
                "failed": c.ContactOutcome.UNANSWERED,
                "canceled": c.ContactOutcome.UNANSWERED,
                "completed": c.ContactOutcome.UNANSWERED,
            }.get(status)
        if mapped is None or mapped is record.outcome:
            return
        record.outcome = mapped
        self._event(
            act.CaseEventKind.CONTACT,
            f"{record.channel.value} {record.purpose}: provider status {status}",
            details={
                "step": record.purpose,
                "status": status,
                "outcome": mapped.value,
                "sid": inp.provider_sid,
            },
        )

    def _record_by_sid(self, sid: str) -> c.ContactRecord | None:
        for record in reversed(self.s.contact_log):
            if record.provider_sid == sid:
                return record
        return None

    def _first_delivery(self, sid: str) -> bool:
        """Providers and proxies redeliver webhooks; each message or key press counts once."""
        if sid in self.s.handled_sids:
            return False
        self.s.handled_sids.append(sid)
        del self.s.handled_sids[:-HANDLED_SIDS_KEPT]
        return True

    @workflow.signal(name=c.SIGNAL_IVR)
    def ivr_response(self, inp: c.IvrResponse) -> None:
        if not self._first_delivery(f"{inp.provider_sid}:{inp.digits}"):
            return
        record = self._record_by_sid(inp.provider_sid)
        if record is not None:
            record.connected = True
            record.outcome = c.ContactOutcome.ANSWERED
        if self.s.stage.terminal:
            return
        if inp.digits == "1":
            if self.s.stage in (Stage.REMINDING, Stage.WAITING) and not self._open_promise():
                days = self.strategy.negotiation.promise_within_days
                self._record_promise(self.s.balance, days, "ivr", SYSTEM_ACTOR)
                self._enter(Stage.FOLLOW_UP, "borrower promised to pay (IVR key 1)")
            else:
                self._event(act.CaseEventKind.NOTE, "borrower pressed 1 (promise) on a call")
        elif inp.digits == "2":
            self.s.callback_requested_at = self._now()
            self._event(
                act.CaseEventKind.NOTE,
                "borrower asked for a call back (IVR key 2)",
                details={"kind": "callback_requested"},
            )

    def _open_promise(self) -> c.Promise | None:
        return next((p for p in self.s.promises if p.status == "pending"), None)

    @workflow.signal(name=c.SIGNAL_INBOUND)
    def inbound_message(self, inp: c.InboundMessage) -> None:
        if not self._first_delivery(inp.provider_sid):
            return
        kind = classify_inbound(inp.text)
        if kind == "opt_out":
            self._set_opt_out(Channel.SMS, True, f"replied {inp.text.strip()!r}")
        elif kind == "opt_in":
            self._set_opt_out(Channel.SMS, False, f"replied {inp.text.strip()!r}")
        else:
            self.s.notes.append(
                c.Note(at=self._now(), actor=SYSTEM_ACTOR, text=f"borrower wrote: {inp.text}")
            )
            self._event(
                act.CaseEventKind.NOTE,
                f"borrower wrote: {inp.text}",
                details={"sid": inp.provider_sid},
            )

    @workflow.signal(name=c.SIGNAL_OPT)
    def channel_preference(self, inp: c.ChannelPreference) -> None:
        self._set_opt_out(inp.channel, inp.opted_out, inp.source, inp.actor)
