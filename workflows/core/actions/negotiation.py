"""Negotiation at any open stage (a call at D+5, the borrower's own page, after a visit):
a promise, an installment plan, a hardship grace, a dispute or a refusal; and hardship pauses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models import case as c
from models.actions import ActionName
from models.common import Actor, Stage
from workflows.core import affordability, clock, installments, treatments
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal
from workflows.core.state import NEGOTIATIONS_KEPT, NegotiationNote

R = c.NegotiationResult


def promise_days(case: Case, terms: c.PromiseTerms, now: datetime) -> int:
    if terms.due_in_days is not None:
        return terms.due_in_days
    return clock.days_until(case.s, now, terms.due_date) if terms.due_date else 0


def check_promise(case: Case, terms: c.PromiseTerms, now: datetime) -> None:
    rules, days = treatments.rules_in_force(case.s, case.strategy), promise_days(case, terms, now)
    if not 0 <= days <= rules.promise_within_days:
        raise Refusal("promise_window", days=str(rules.promise_within_days), proposed=str(days))
    if terms.amount > case.s.balance:
        raise Refusal("promise_amount", amount=str(terms.amount), balance=str(case.s.balance))


def check_grace(case: Case, days: int) -> None:
    rules = treatments.rules_in_force(case.s, case.strategy)
    why = ""
    if days > rules.max_grace_days:
        why = f"{days} days were asked"
    elif case.s.graces_used >= rules.max_graces:
        why = f"this case has had {case.s.graces_used}"
    if why:
        raise Refusal(
            "grace_limit", max=str(rules.max_grace_days), graces=str(rules.max_graces), why=why
        )


def means(case: Case, inp: c.NegotiationInput) -> Decimal | None:
    """Disposable income: the figures given now, else the last ones the case learnt."""
    s = case.s
    if inp.monthly_income is not None and inp.essential_expenses is not None:
        return affordability.disposable_income(inp.monthly_income, inp.essential_expenses)
    return affordability.disposable_income(s.monthly_income, s.essential_expenses)


def check_affordable(case: Case, inp: c.NegotiationInput, terms: c.PlanTerms) -> None:
    rules, s = treatments.rules_in_force(case.s, case.strategy), case.s
    problem = affordability.unaffordable(
        s.balance, terms.count, terms.frequency_days, means(case, inp), rules
    )
    if problem:
        raise Refusal("unaffordable", **problem.params(s.currency))


def _first_days(case: Case, terms: c.PlanTerms, now: datetime) -> int:
    if terms.first_due_in_days is not None:
        return terms.first_due_in_days
    return clock.days_until(case.s, now, terms.first_due) if terms.first_due else 0


def record_negotiation(case: Case, inp: c.NegotiationInput, actor: Actor, now: datetime) -> None:
    s = case.s
    s.negotiations_count += 1
    s.negotiations.append(
        NegotiationNote(
            at=now,
            actor=actor,
            reason=inp.reason,
            result=inp.result,
            monthly_income=inp.monthly_income,
            essential_expenses=inp.essential_expenses,
            notes=inp.notes,
        )
    )
    del s.negotiations[:-NEGOTIATIONS_KEPT]
    summary = f"negotiation {s.negotiations_count}: reason {inp.reason.value}, "
    summary += f"result {inp.result.value}"
    case.event("negotiation", summary, now, actor, reason=inp.reason.value, result=inp.result.value)


class Negotiation(ActionDef[c.NegotiationInput]):
    name = ActionName.NEGOTIATION

    def check(self, case: Case, inp: c.NegotiationInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        if inp.result is R.PROMISE and inp.promise:
            check_promise(case, inp.promise, now)
        if inp.result is R.INSTALLMENT_PLAN and inp.plan:
            s, rules = case.s, treatments.rules_in_force(case.s, case.strategy)
            first = _first_days(case, inp.plan, now)
            problem = installments.plan_problem(s.balance, inp.plan.count, first, rules, s.currency)
            if problem:
                raise Refusal("terms", problem=problem)
            check_affordable(case, inp, inp.plan)
        if inp.result is R.HARDSHIP_GRACE and inp.grace_days:
            check_grace(case, inp.grace_days)
        if inp.result is R.DISPUTE and case.s.dispute_open:
            raise Refusal("dispute_state", why="A dispute is already open on this case.")

    def run(self, case: Case, inp: c.NegotiationInput, actor: Actor, now: datetime) -> None:
        self._learn(case, inp)
        entered = (case.s.stage, case.s.stage_entered_at)
        record_negotiation(case, inp, actor, now)
        if inp.result is R.PROMISE and inp.promise:
            days = promise_days(case, inp.promise, now)
            case.add_promise(inp.promise.amount, days, "promise", actor, now)
            self._follow_up(case, "promise to pay agreed", actor, now)
        elif inp.result is R.INSTALLMENT_PLAN and inp.plan:
            first = _first_days(case, inp.plan, now)
            case.add_plan(inp.plan.count, inp.plan.frequency_days, first, actor, now)
            self._follow_up(case, "installment plan agreed", actor, now)
        elif inp.result is R.HARDSHIP_GRACE and inp.grace_days:
            case.grant_hardship(inp.grace_days, actor, now, "hardship grace agreed")
        elif inp.result is R.DISPUTE:
            case.s.dispute_open = True
            case.begin_pause(now)
            case.event("dispute", f"dispute opened: {inp.notes or 'in negotiation'}", now, actor)
        elif case.s.stage is not Stage.ESCALATED:
            case.enter(Stage.ESCALATED, "borrower refused to pay", now, actor)
        if (case.s.stage, case.s.stage_entered_at) == entered:  # a stage entry assessed already
            case.assess("after negotiation", now)

    @staticmethod
    def _learn(case: Case, inp: c.NegotiationInput) -> None:
        """Keep what the borrower told us: the next check and the scorecard read it."""
        s = case.s
        s.default_reason = inp.reason.value
        if inp.monthly_income is not None and inp.essential_expenses is not None:
            s.monthly_income, s.essential_expenses = inp.monthly_income, inp.essential_expenses

    @staticmethod
    def _follow_up(case: Case, why: str, actor: Actor, now: datetime) -> None:
        if case.s.stage is not Stage.FOLLOW_UP:
            case.enter(Stage.FOLLOW_UP, why, now, actor)


class Hardship(ActionDef[c.HardshipInput]):
    name = ActionName.HARDSHIP

    def check(self, case: Case, inp: c.HardshipInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        check_grace(case, inp.days)

    def run(self, case: Case, inp: c.HardshipInput, actor: Actor, now: datetime) -> None:
        case.grant_hardship(inp.days, actor, now, inp.reason or "hardship reported")
