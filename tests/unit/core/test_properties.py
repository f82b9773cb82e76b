"""The core under random sequences of actions, signals and time (DESIGN §3's invariants).

``make test`` runs the ``core-ci`` profile (300 sequences); ``make fuzz`` sets
COLLECTFLOW_CORE_PROFILE=core-fuzz for 5,000. Every step checks every invariant.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from models import case as c
from models.actions import ActionName as N
from models.case import ContactOutcome
from models.common import Actor, Channel, Stage
from models.strategy import load_strategy
from tests.factories import STRATEGIES
from tests.unit.core.helpers import (
    ADMIN,
    BORROWER,
    OPENED,
    OPERATOR,
    SUPERVISOR,
    SYSTEM,
    new_case,
)
from tests.unit.core.property_invariants import CoreInvariants
from workflows.core import affordability, compliance, localtime, stages, view
from workflows.core import effects as fx
from workflows.core.actions.registry import CASE_ACTIONS
from workflows.core.refusal import Refusal
from workflows.core.results import collectors_result
from workflows.core.state import Contact
from workflows.core.timers import next_wait, on_timer

settings.register_profile(
    "core-ci",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "core-fuzz",
    max_examples=5_000,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = settings.get_profile(os.environ.get("COLLECTFLOW_CORE_PROFILE", "core-ci"))

PEOPLE = st.sampled_from([OPERATOR, SUPERVISOR, ADMIN, BORROWER, SYSTEM])
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1500"), places=2)
# Mostly small payments, so cases live long enough to reach the later stages.
PAID = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("120"), places=2) | AMOUNTS
ATTEMPTED = compliance.ATTEMPTED
SMS_RULES = ((1, 1, "sms day"), (3, 7, "sms 7 days"))


class CoreMachine(CoreInvariants, RuleBasedStateMachine):
    @initialize(
        amount=st.sampled_from(["1000.00", "4321.09"]),
        head_start=st.sampled_from([0, 0, 12, 18, 19, 21, 30]),
        strategy=st.sampled_from(["default", "segmented"]),
    )
    def open(self, amount: str, head_start: int, strategy: str) -> None:
        """A case, run quietly for ``head_start`` days so sequences start in every stage; under
        the default strategy or the segmented one (affordability, scoring, treatments)."""
        self.case = new_case(load_strategy(strategy, STRATEGIES), amount=amount)
        self.now = OPENED
        self.refs: dict[str, Decimal] = {}
        self.archived_refs: set[str] = set()
        self.contacts: dict[str, Contact] = {}
        self.commitments: dict[int, tuple[str, Decimal]] = {}
        self.was_terminal = False
        self.n = 0
        self.effects(on_timer(self.case, self.now))
        self.run_to(self.now + timedelta(days=head_start))

    # ------------------------------------------------------------------ driving

    def effects(self, out: list[fx.Effect]) -> None:
        """Check what one call produced against the state it left."""
        s = self.case.s
        for e in out:
            if isinstance(e, fx.Contact):
                local = localtime.to_local(e.at, s.timezone).time()
                rules = self.case.strategy.compliance
                assert rules.window_start <= local < rules.window_end, e
                assert not s.cease_contact and e.channel not in s.opted_out, e
                assert e.channel in s.consent, e
                if not e.transactional:
                    assert not s.dispute_open, e
                    assert s.hardship_until is None or e.at >= s.hardship_until, e
                    assert not (self.was_terminal or (s.stage.terminal and e.step != "thank-you"))
            if isinstance(e, fx.Event):
                assert view.event_kind(e.kind) is not None, f"no read-model kind for {e.kind}"
            if isinstance(e, fx.Event) and e.kind in ("stage", "closed"):
                source, target = Stage(e.details["source"]), Stage(e.details["target"])
                assert stages.may_move(source, target), e.summary
            if isinstance(e, fx.Event) and e.kind == "archived_payment":
                self.archived_refs.add(e.details["payment_ref"])
        for record in s.contacts:
            self.contacts[record.key + record.at.isoformat()] = record
        for asked in [e for e in out if isinstance(e, fx.AssignCollectors)]:
            # as the shell does: the assignment activity answers (here, always two collectors)
            self.effects(collectors_result(self.case, asked.visit_no, ["F-1", "F-2"], "", self.now))

    def call(self, name: N, inp: Any, actor: Actor) -> None:
        action = CASE_ACTIONS[name]
        before = self.case.s.model_dump()
        try:
            action.check(self.case, inp, actor, self.now)
        except Refusal as refusal:
            assert refusal.en and refusal.zh
            assert self.case.s.model_dump() == before, "a refused check changed the state"
            return
        if name is N.PAYMENT:
            self.refs.setdefault(inp.payment_ref, inp.amount)
        self.effects(action.apply(self.case, inp, actor, self.now))
        if name is N.NEGOTIATION and inp.result is c.NegotiationResult.INSTALLMENT_PLAN:
            self.plan_is_affordable(inp.plan.frequency_days)

    def plan_is_affordable(self, every: int) -> None:
        """A plan agreed where the strategy sets a share never asks more than it allows."""
        s, rules = self.case.s, self.case.strategy.negotiation
        disposable = affordability.disposable_income(s.monthly_income, s.essential_expenses)
        if disposable is None or rules.affordable_share is None:
            return
        limit = affordability.installment_limit(disposable, rules.affordable_share, every)
        plan = [x for x in s.commitments if x.kind == "installment" and x.status == "pending"]
        assert plan and max(x.amount for x in plan) <= limit, "an unaffordable plan was agreed"

    @rule(hours=st.integers(min_value=1, max_value=96))
    def hours_pass(self, hours: int) -> None:
        self.run_to(self.now + timedelta(hours=hours))

    @rule(days=st.integers(min_value=2, max_value=12))
    def days_pass(self, days: int) -> None:
        self.run_to(self.now + timedelta(days=days))

    def run_to(self, target: datetime) -> None:
        for _ in range(200):
            wait = next_wait(self.case, self.now)
            if wait.until is None or wait.until > target:
                break
            self.now = max(wait.until, self.now)
            out = on_timer(self.case, self.now)
            self.effects(out)
            timer = out[-1]
            assert isinstance(timer, fx.Timer)
            assert timer.until is None or timer.until > self.now, f"spins at {timer}"
        self.now = target
        self.effects(on_timer(self.case, self.now))

    # ------------------------------------------------------------------ actions

    @rule(amount=PAID, repeat=st.booleans(), who=st.sampled_from([SYSTEM, SUPERVISOR]))
    def payment(self, amount: Decimal, repeat: bool, who: Actor) -> None:
        if repeat and self.refs:
            ref = sorted(self.refs)[0]
            amount = self.refs[ref]
        else:
            self.n += 1
            ref = f"P-{self.n}"
        receipt = "R-1" if self.n % 2 else None
        inp = c.PaymentInput(payment_ref=ref, amount=amount, paid_at=self.now, receipt_ref=receipt)
        self.call(N.PAYMENT, inp, who)

    @rule(amount=AMOUNTS, who=st.sampled_from([SYSTEM, OPERATOR, SUPERVISOR]))
    def amount_changes(self, amount: Decimal, who: Actor) -> None:
        inp = c.AmountUpdate(amount_overdue=amount, actor=who)
        action = CASE_ACTIONS[N.AMOUNT_UPDATE]
        owed = self.case.s.amount_overdue
        self.effects(action.receive(self.case, inp, who, self.now))
        if who is OPERATOR:
            assert self.case.s.amount_overdue == owed, "an operator changed the amount"

    @rule(
        result=st.sampled_from(list(c.NegotiationResult)),
        amount=AMOUNTS,
        days=st.integers(min_value=0, max_value=20),
        count=st.integers(min_value=2, max_value=6),
        who=PEOPLE,
        reason=st.sampled_from(list(c.DefaultReason)),
        means=st.none() | st.sampled_from([("4200", "3100"), ("3000", "2950"), ("0", "10")]),
    )
    def negotiation(
        self,
        result: c.NegotiationResult,
        amount: Decimal,
        days: int,
        count: int,
        who: Actor,
        reason: c.DefaultReason,
        means: tuple[str, str] | None,
    ) -> None:
        terms: dict[str, Any] = {}
        if result is c.NegotiationResult.PROMISE:
            terms["promise"] = c.PromiseTerms(amount=amount, due_in_days=days)
        elif result is c.NegotiationResult.INSTALLMENT_PLAN:
            terms["plan"] = c.PlanTerms(count=count, frequency_days=7, first_due_in_days=days)
        elif result is c.NegotiationResult.HARDSHIP_GRACE:
            terms["grace_days"] = days + 1
        if means:
            terms["monthly_income"], terms["essential_expenses"] = map(Decimal, means)
        inp = c.NegotiationInput(reason=reason, result=result, **terms)
        self.call(N.NEGOTIATION, inp, who)

    @rule(days=st.integers(min_value=1, max_value=40), who=PEOPLE)
    def hardship(self, days: int, who: Actor) -> None:
        self.call(N.HARDSHIP, c.HardshipInput(days=days), who)

    @rule(
        opening=st.booleans(),
        resolution=st.sampled_from(["upheld", "rejected"]),
        corrected=st.none() | AMOUNTS,
        who=PEOPLE,
    )
    def dispute(self, opening: bool, resolution: Any, corrected: Any, who: Actor) -> None:
        if opening:
            inp = c.DisputeInput(action="open", reason="not mine")
        else:
            inp = c.DisputeInput(
                action="resolve", resolution=resolution, corrected_amount=corrected
            )
        self.call(N.DISPUTE, inp, who)

    @rule(outcome=st.sampled_from(list(c.ManualContactOutcome)), amount=AMOUNTS)
    def manual_call(self, outcome: c.ManualContactOutcome, amount: Decimal) -> None:
        promise = None
        if outcome is c.ManualContactOutcome.PROMISE:
            promise = c.PromiseTerms(amount=amount, due_in_days=3)
        self.call(
            N.MANUAL_CONTACT, c.ManualContactInput(outcome=outcome, promise=promise), OPERATOR
        )

    @rule(channel=st.sampled_from(list(Channel)), out=st.booleans())
    def preference(self, channel: Channel, out: bool) -> None:
        self.call(N.CHANNEL_PREFERENCE, c.ChannelPreference(channel=channel, opted_out=out), SYSTEM)

    @rule()
    def cease(self) -> None:
        self.call(N.CEASE_CONTACT, c.CeaseContactInput(), BORROWER)

    @rule(text=st.text(min_size=1, max_size=40))
    def note(self, text: str) -> None:
        self.call(N.NOTE, c.NoteInput(text=text), OPERATOR)

    @rule(pick=st.integers(min_value=0, max_value=2), staff=st.booleans())
    def visit_answer(self, pick: int, staff: bool) -> None:
        visit = self.case.current_visit()
        if visit is None or not visit.offered:
            return
        if staff:
            self.call(N.REASSIGN, c.ReassignInput(agents=["fc-1", "fc-2"]), SUPERVISOR)
        slot = visit.offered[min(pick, len(visit.offered) - 1)]
        self.call(N.VISIT_ANSWER, c.VisitAnswerInput(answer="accept", slot=slot), BORROWER)

    @rule(digits=st.sampled_from(["1", "2", "9"]), sid=st.integers(min_value=1, max_value=3))
    def key_press(self, digits: str, sid: int) -> None:
        self.call(N.IVR_RESPONSE, c.IvrResponse(provider_sid=f"CA-{sid}", digits=digits), SYSTEM)

    @rule(text=st.sampled_from(["STOP", "退订", "start", "call me", "V1", "拜访2"]))
    def inbound(self, text: str) -> None:
        self.n += 1
        self.call(
            N.INBOUND_MESSAGE, c.InboundMessage(provider_sid=f"SM-{self.n}", text=text), SYSTEM
        )

    @rule(days=st.integers(min_value=1, max_value=6), hour=st.integers(min_value=0, max_value=23))
    def operator_books(self, days: int, hour: int) -> None:
        at = (self.now + timedelta(days=days)).replace(hour=hour, minute=0, second=0)
        inp = c.ScheduleVisitInput(at=at, collectors=["fc-1", "fc-2"])
        self.call(N.SCHEDULE_VISIT, inp, OPERATOR)

    @rule(outcome=st.sampled_from(list(c.VisitOutcome)), go=st.booleans())
    def visit_outcome(self, outcome: c.VisitOutcome, go: bool) -> None:
        """Often the collectors go at the slot first; sometimes one tries to record early."""
        visit = self.case.current_visit()
        if go and visit is not None and visit.scheduled_at and self.now < visit.scheduled_at:
            self.run_to(visit.scheduled_at + timedelta(hours=1))
        self.call(N.VISIT_OUTCOME, c.RecordVisitInput(outcome=outcome), OPERATOR)

    @rule(
        decision=st.sampled_from(list(c.EscalationDecision)),
        amount=AMOUNTS,
        who=st.sampled_from([SUPERVISOR, OPERATOR]),
    )
    def escalation(self, decision: c.EscalationDecision, amount: Decimal, who: Actor) -> None:
        inp = c.EscalationInput(decision=decision, settlement_amount=amount)
        self.call(N.ESCALATION, inp, who)

    @rule(
        approve=st.sampled_from([False, False, True]),
        kind=st.sampled_from(["close", "amount_correction", "amount_correction"]),
        amount=AMOUNTS,
    )
    def request_and_decide(self, approve: bool, kind: Any, amount: Decimal) -> None:
        inp = c.ChangeRequestInput(
            kind=kind, close_reason=c.CloseReason.RECALLED, corrected_amount=amount
        )
        self.call(N.REQUEST_CHANGE, inp, OPERATOR)
        pending = [r.no for r in self.case.s.requests if r.status == "pending"]
        if pending:
            self.call(
                N.DECIDE_REQUEST,
                c.DecideRequestInput(request_no=pending[-1], approve=approve),
                SUPERVISOR,
            )

    @rule(
        currency=st.sampled_from(["CNY", "USD"]),
        back=st.integers(min_value=-48, max_value=48),
        amount=AMOUNTS,
        sms=st.booleans(),
    )
    def repeat_event(self, currency: str, back: int, amount: Decimal, sms: bool) -> None:
        inp = c.OverdueUpdateInput(
            currency=currency,
            amount_overdue=amount,
            as_of=self.now + timedelta(hours=back),
            phone="+8613900139000",
            consent_sms=sms,
        )
        self.call(N.OVERDUE_UPDATE, inp, SYSTEM)

    @rule(channel=st.sampled_from(list(Channel)))
    def other_loan_contact(self, channel: Channel) -> None:
        """The borrower's other loan contacts them, as its own (compliant) core allowed."""
        if self.case.gate(channel, self.now).verdict is compliance.Verdict.SEND:
            record = Contact(
                key=f"case-other/g1/{self.now.isoformat()}",
                channel=channel,
                step="other",
                at=self.now,
                outcome=ContactOutcome.SENT,
            )
            self.case.s.borrower_contacts.append(record)
            self.contacts[record.key] = record


TestCore = CoreMachine.TestCase
TestCore.settings = PROFILE
