"""The supervisor's decisions: another visit, a settlement, legal action or a write-off;
closing a case (the loan system's or a supervisor's) and reassigning agents."""

from __future__ import annotations

from datetime import datetime

from models import case as c
from models.actions import ActionName
from models.common import Actor, Stage
from workflows.core import clock
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal

D = c.EscalationDecision


class Escalation(ActionDef[c.EscalationInput]):
    name = ActionName.ESCALATION

    def check(self, case: Case, inp: c.EscalationInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        s = case.s
        if inp.decision is D.LEGAL:
            dpd, needed = clock.dpd(s, case.strategy, now), case.strategy.escalation.legal_min_dpd
            if dpd < needed:
                raise Refusal("legal_dpd", needed=str(needed), dpd=str(dpd))
        if inp.decision is D.SETTLEMENT:
            amount = inp.settlement_amount
            why = ""
            if amount is None:
                why = "A settlement needs 'settlement_amount'."
            elif amount >= s.amount_overdue:
                why = f"A settlement must be less than the amount overdue ({s.amount_overdue})."
            elif amount <= s.paid_total:
                why = f"A settlement must exceed what is already paid ({s.paid_total})."
            if why:
                raise Refusal("settlement", why=why)

    def run(self, case: Case, inp: c.EscalationInput, actor: Actor, now: datetime) -> None:
        case.event("escalation", f"supervisor decided: {inp.decision.value}", now, actor)
        if inp.decision is D.ANOTHER_VISIT:
            case.enter(Stage.VISIT, "supervisor ordered another visit", now, actor)
        elif inp.decision is D.SETTLEMENT and inp.settlement_amount is not None:
            case.s.settlement_amount = inp.settlement_amount
            still_due = inp.settlement_amount - case.s.paid_total
            days = case.strategy.negotiation.promise_within_days
            case.add_promise(still_due, days, "settlement", actor, now)
            case.enter(Stage.FOLLOW_UP, "settlement offered", now, actor)
        elif inp.decision is D.LEGAL:
            case.enter(Stage.LEGAL, "supervisor approved legal action", now, actor)
        else:
            case.enter(Stage.WRITTEN_OFF, "supervisor wrote the balance off", now, actor)


class Close(ActionDef[c.CloseInput]):
    name = ActionName.CLOSE

    def run(self, case: Case, inp: c.CloseInput, actor: Actor, now: datetime) -> None:
        reason = f"{inp.reason.value}: {inp.notes}".rstrip(": ")
        case.enter(Stage.CLOSED, reason, now, actor)


class Reassign(ActionDef[c.ReassignInput]):
    name = ActionName.REASSIGN

    def run(self, case: Case, inp: c.ReassignInput, actor: Actor, now: datetime) -> None:
        case.s.assigned_agents = list(dict.fromkeys(inp.agents))
        visit = case.current_visit()
        if visit is not None:
            visit.collectors = list(case.s.assigned_agents)
        case.event("agents", f"{len(inp.agents)} agents assigned", now, actor)
