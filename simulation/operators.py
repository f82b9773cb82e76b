"""The operator bot: the same policy for every strategy — schedule the visit a borrower is
offered, record its outcome, negotiate after it, and decide escalations as a supervisor.

Where the borrower's means are known (the hidden-traits portfolio), the operator uses the
core's plan calculator (``workflows.core.affordability``), as the console does: the shortest
plan the borrower can afford within the bounds in force, else a hardship grace.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from models import case as c
from models.common import Actor, Role, Stage
from simulation.profiles import Action, Behaviour, Means, Observation, Profile
from workflows import localtime
from workflows.core import affordability

OPERATOR = Actor(id="sim-operator", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sim-supervisor", role=Role.SUPERVISOR)
# The operator bot's own policy, the same for every strategy.
SETTLEMENT_SHARE = Decimal("0.70")
WRITE_OFF_MIN_DPD = 90
PLAN_FREQUENCY_DAYS = 30
PLAN_FIRST_DUE_DAYS = 7
PROMISE_DAYS = 7
CURRENCY = "CNY"  # the portfolio's loans (simulation.portfolio)


def _slot(obs: Observation, visit: c.VisitRecord) -> datetime:
    """The proposed slot if still ahead, else 10:00 borrower time the next day."""
    if visit.proposed_at > obs.now:
        return visit.proposed_at
    return localtime.local_to_utc(obs.today + timedelta(days=1), time(10, 0), obs.timezone)


def _visit_outcome(b: Behaviour) -> c.VisitOutcome:
    if b is Behaviour.UNREACHABLE:
        return c.VisitOutcome.NOT_HOME
    if b is Behaviour.OPTS_OUT:
        return c.VisitOutcome.REFUSED
    return c.VisitOutcome.MET


def operators(p: Profile, obs: Observation) -> list[Action]:
    b = p.behaviour
    out: list[Action] = []
    if b is Behaviour.DISPUTES and obs.contact_days and obs.day >= obs.contact_days[0] + 1:
        out.append(
            Action(
                "dispute-open",
                c.UPDATE_DISPUTE,
                c.DisputeInput(
                    action="open", reason="borrower disputes the amount", actor=OPERATOR
                ),
            )
        )
        opened = obs.done.get("dispute-open")
        if opened is not None and obs.day >= opened + p.dispute_days:
            resolution = "upheld" if p.dispute_upheld else "rejected"
            out.append(
                Action(
                    "dispute-resolve",
                    c.UPDATE_DISPUTE,
                    c.DisputeInput(
                        action="resolve",
                        resolution=resolution,
                        reason="reviewed the loan file",
                        actor=SUPERVISOR,
                    ),
                )
            )
    if obs.stage is Stage.VISIT and obs.visits and obs.visits[-1].outcome is None:
        visit = obs.visits[-1]
        if visit.scheduled_at is None and visit.proposal_sent:
            collectors = [] if len(visit.collectors) >= 2 else ["SIM-FA-1", "SIM-FA-2"]
            out.append(
                Action(
                    f"schedule-{visit.visit_no}",
                    c.UPDATE_SCHEDULE_VISIT,
                    c.ScheduleVisitInput(
                        at=_slot(obs, visit), collectors=collectors, actor=OPERATOR
                    ),
                )
            )
        elif visit.scheduled_at is not None and obs.now >= visit.scheduled_at:
            outcome = _visit_outcome(b)
            out.append(
                Action(
                    f"visit-{visit.visit_no}",
                    c.UPDATE_RECORD_VISIT,
                    c.RecordVisitInput(outcome=outcome, notes="simulated visit", actor=OPERATOR),
                )
            )
    elif obs.stage is Stage.NEGOTIATING:
        out.append(_negotiate(p, obs))
    elif obs.stage is Stage.ESCALATED:
        decision = _escalation(obs)
        if decision is not None:
            out.append(decision)
    return out


# The bench's borrowers who agree a plan can afford it by definition (keeps_plan, breaks_plan
# by choice, not by means): figures under which any bench balance fits a plan of two, so the
# affordability rule never changes the bench's plans or its figures.
BENCH_MEANS = Means(
    monthly_income=Decimal("10000.00"),
    essential_expenses=Decimal("3100.00"),
    reason=c.DefaultReason.UNEMPLOYMENT,
    hardship=False,
)
PLAN_BEHAVIOURS = (Behaviour.KEEPS_PLAN, Behaviour.BREAKS_PLAN)


def _proposal(means: Means, obs: Observation) -> affordability.Proposal | None:
    if obs.rules is None:
        return None
    disposable = affordability.disposable_income(means.monthly_income, means.essential_expenses)
    return affordability.propose(
        obs.balance,
        disposable,
        obs.rules,
        CURRENCY,
        frequency_days=PLAN_FREQUENCY_DAYS,
        graces_used=obs.graces_used,
    )


def _negotiate(p: Profile, obs: Observation) -> Action:
    key = f"negotiate-{obs.negotiations + 1}"
    b, means = p.behaviour, p.means or BENCH_MEANS
    figures = {
        "monthly_income": means.monthly_income,
        "essential_expenses": means.essential_expenses,
    }
    if b is Behaviour.OPTS_OUT:
        reason = c.DefaultReason.OTHER if p.means is None else means.reason
        terms = c.NegotiationInput(
            reason=reason, result=c.NegotiationResult.REFUSAL, actor=OPERATOR
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    proposal = _proposal(means, obs)
    count = min(p.plan_count, int(obs.balance // 100), 10)
    if proposal is not None and proposal.kind == "plan":
        count = max(count, proposal.count)  # the calculator: no shorter than affordable
    wants_plan = b in PLAN_BEHAVIOURS and count >= 2
    if p.means is not None and proposal is not None and proposal.kind == "hardship_grace":
        terms = c.NegotiationInput(
            reason=means.reason,
            result=c.NegotiationResult.HARDSHIP_GRACE,
            grace_days=proposal.grace_days,
            actor=OPERATOR,
            **figures,
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    if wants_plan:
        terms = c.NegotiationInput(
            reason=means.reason,
            result=c.NegotiationResult.INSTALLMENT_PLAN,
            plan=c.PlanTerms(
                count=count,
                frequency_days=PLAN_FREQUENCY_DAYS,
                first_due_in_days=PLAN_FIRST_DUE_DAYS,
            ),
            actor=OPERATOR,
            **figures,
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    if p.means is None:  # the bench: a promise, and no figures asked
        terms = c.NegotiationInput(
            reason=c.DefaultReason.FORGOT,
            result=c.NegotiationResult.PROMISE,
            promise=c.PromiseTerms(amount=obs.balance, due_in_days=PROMISE_DAYS),
            actor=OPERATOR,
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    terms = c.NegotiationInput(
        reason=means.reason,
        result=c.NegotiationResult.PROMISE,
        promise=c.PromiseTerms(amount=obs.balance, due_in_days=PROMISE_DAYS),
        actor=OPERATOR,
        **figures,
    )
    return Action(key, c.UPDATE_NEGOTIATION, terms)


def _escalation(obs: Observation) -> Action | None:
    """The supervisor: settle a twice-broken plan once, then legal; write off the unreachable."""
    key = f"decide-{obs.escalations}"
    if obs.broken >= 2 and "settle" not in obs.done:
        amount = (obs.amount_overdue * SETTLEMENT_SHARE).quantize(Decimal("0.01"))
        if obs.paid_total < amount < obs.amount_overdue:
            return Action(
                "settle",
                c.UPDATE_ESCALATION,
                c.EscalationInput(
                    decision=c.EscalationDecision.SETTLEMENT,
                    settlement_amount=amount,
                    notes="one settlement offer after two broken plans",
                    actor=SUPERVISOR,
                ),
            )
    engaged = obs.broken >= 2 or any(
        v.outcome in (c.VisitOutcome.MET, c.VisitOutcome.REFUSED) for v in obs.visits
    )
    if engaged and obs.dpd >= obs.legal_min_dpd:
        return Action(
            key,
            c.UPDATE_ESCALATION,
            c.EscalationInput(decision=c.EscalationDecision.LEGAL, actor=SUPERVISOR),
        )
    if not engaged and obs.dpd >= WRITE_OFF_MIN_DPD:
        return Action(
            key,
            c.UPDATE_ESCALATION,
            c.EscalationInput(decision=c.EscalationDecision.WRITE_OFF, actor=SUPERVISOR),
        )
    return None
