"""Borrower behaviour models and the operator bot, as seeded pure functions.

Each loan draws a :class:`Profile` from the seed and its loan id, one random stream per
decision (``simulation.streams``), so the draws do not depend on the order the engine visits
loans in. At every observable point — once a simulated day, after the
case's read model has caught up — :func:`decide` maps the profile and an :class:`Observation`
of the case to the actions the borrower and the operators take now. Each action carries a
``key``: the driver performs a key once, and tells :func:`decide` on which day it did so.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from models import case as c
from models.common import Actor, Role, Stage
from simulation.streams import stream
from workflows import localtime


class Behaviour(StrEnum):
    PAYS_ON_REMINDER = "pays_on_reminder"
    PAYS_AFTER_VISIT = "pays_after_visit"
    KEEPS_PLAN = "keeps_plan"
    BREAKS_PLAN = "breaks_plan"
    DISPUTES = "disputes"
    OPTS_OUT = "opts_out"
    UNREACHABLE = "unreachable"


DEFAULT_MIX: dict[Behaviour, float] = {
    Behaviour.PAYS_ON_REMINDER: 0.30,
    Behaviour.PAYS_AFTER_VISIT: 0.15,
    Behaviour.KEEPS_PLAN: 0.15,
    Behaviour.BREAKS_PLAN: 0.10,
    Behaviour.DISPUTES: 0.05,
    Behaviour.OPTS_OUT: 0.10,
    Behaviour.UNREACHABLE: 0.15,
}

# Every stage a loan of each behaviour can be found in (its path through the case), so a run of
# any length can be checked: a loan outside its behaviour's path is a simulation or workflow bug.
PATHS: dict[Behaviour, frozenset[Stage]] = {
    Behaviour.PAYS_ON_REMINDER: frozenset(
        {Stage.REMINDING, Stage.WAITING, Stage.FOLLOW_UP, Stage.RESOLVED}
    ),
    Behaviour.PAYS_AFTER_VISIT: frozenset(
        {
            Stage.REMINDING,
            Stage.WAITING,
            Stage.VISIT,
            Stage.NEGOTIATING,
            Stage.FOLLOW_UP,
            Stage.RESOLVED,
        }
    ),
    Behaviour.KEEPS_PLAN: frozenset(
        {
            Stage.REMINDING,
            Stage.WAITING,
            Stage.VISIT,
            Stage.NEGOTIATING,
            Stage.FOLLOW_UP,
            Stage.RESOLVED,
        }
    ),
    Behaviour.BREAKS_PLAN: frozenset(
        {
            Stage.REMINDING,
            Stage.WAITING,
            Stage.VISIT,
            Stage.NEGOTIATING,
            Stage.FOLLOW_UP,
            Stage.ESCALATED,
            Stage.SETTLED,
            Stage.LEGAL,
        }
    ),
    Behaviour.DISPUTES: frozenset({Stage.REMINDING, Stage.WAITING, Stage.CLOSED, Stage.RESOLVED}),
    Behaviour.OPTS_OUT: frozenset(
        {Stage.REMINDING, Stage.WAITING, Stage.VISIT, Stage.ESCALATED, Stage.LEGAL}
    ),
    Behaviour.UNREACHABLE: frozenset(
        {Stage.REMINDING, Stage.WAITING, Stage.VISIT, Stage.ESCALATED, Stage.WRITTEN_OFF}
    ),
}

OPERATOR = Actor(id="sim-operator", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sim-supervisor", role=Role.SUPERVISOR)
LOAN_SYSTEM = Actor(id="sim-loan-system", role=Role.SYSTEM)
# The operator bot's own policy, the same for every strategy.
SETTLEMENT_SHARE = Decimal("0.70")
WRITE_OFF_MIN_DPD = 90
PLAN_FREQUENCY_DAYS = 30
PLAN_FIRST_DUE_DAYS = 7
PROMISE_DAYS = 7


class MixError(ValueError):
    """A behaviour mix that cannot be used, with the reason."""


def parse_mix(text: str | None) -> dict[Behaviour, float]:
    """``"pays_on_reminder=0.2,unreachable=0.1"`` -> shares summing to 1 (unnamed ones are 0)."""
    if not text:
        return dict(DEFAULT_MIX)
    weights: dict[Behaviour, float] = dict.fromkeys(Behaviour, 0.0)
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise MixError(f"mix entry {part.strip()!r} is not name=share")
        try:
            behaviour = Behaviour(name.strip())
        except ValueError:
            known = ", ".join(b.value for b in Behaviour)
            raise MixError(f"unknown behaviour {name.strip()!r}; known: {known}") from None
        try:
            weight = float(value)
        except ValueError:
            raise MixError(f"share of {behaviour.value} is not a number: {value!r}") from None
        if weight < 0:
            raise MixError(f"share of {behaviour.value} is negative")
        weights[behaviour] = weight
    total = sum(weights.values())
    if total <= 0:
        raise MixError("the mix needs at least one positive share")
    return {b: w / total for b, w in weights.items()}


@dataclass(frozen=True)
class Profile:
    """One borrower: a behaviour and every number it will need, drawn once from the seed."""

    index: int
    behaviour: Behaviour
    amount: Decimal
    pay_after_contacts: int  # pays_on_reminder: pays after this many contacts went out ...
    delay_days: int  # ... this many days later (also: lead before a promise's due date)
    presses_one: bool  # pays_on_reminder: promises on the first call (IVR key 1)
    plan_count: int
    pays_first_installment: bool  # breaks_plan
    accepts_settlement: bool  # breaks_plan
    dispute_days: int
    dispute_upheld: bool


def loan_id_for(seed: int, index: int) -> str:
    """The loan id of a portfolio's ``index``-th loan: what keys its random streams."""
    return f"SIM-{seed}-{index:05d}"


def _pick(rng: random.Random, mix: Mapping[Behaviour, float]) -> Behaviour:
    pick = rng.random()
    running = 0.0
    for candidate in Behaviour:
        running += mix.get(candidate, 0.0)
        if pick < running:
            return candidate
    return Behaviour.UNREACHABLE


def draw_profile(seed: int, index: int, mix: Mapping[Behaviour, float]) -> Profile:
    """Every number a loan needs, each from its own stream keyed by (seed, loan, decision), so
    both engines, any shard and any event order draw the same ones (``simulation.streams``)."""
    loan_id = loan_id_for(seed, index)

    def rng(decision: str) -> random.Random:
        return stream(seed, loan_id, decision)

    return Profile(
        index=index,
        behaviour=_pick(rng("behaviour"), mix),
        amount=Decimal(rng("amount").randrange(800, 6001)),
        pay_after_contacts=rng("pay_after_contacts").randint(1, 3),
        delay_days=rng("delay_days").randint(1, 4),
        presses_one=rng("presses_one").random() < 0.4,
        plan_count=rng("plan_count").randint(3, 6),
        pays_first_installment=rng("pays_first_installment").random() < 0.5,
        accepts_settlement=rng("accepts_settlement").random() < 0.5,
        dispute_days=rng("dispute_days").randint(10, 30),
        dispute_upheld=rng("dispute_upheld").random() < 0.4,
    )


@dataclass(frozen=True)
class Observation:
    """What the borrower and the operators can see of a case at a decision point."""

    day: int
    now: datetime
    timezone: str
    due_date: date
    legal_min_dpd: int
    stage: Stage
    balance: Decimal
    amount_overdue: Decimal
    paid_total: Decimal
    sms_sent: int
    calls_sent: int
    contact_days: tuple[int, ...]
    visits: tuple[c.VisitRecord, ...]
    plan: c.InstallmentPlan | None
    promises: tuple[c.Promise, ...]
    negotiations: int
    broken: int
    escalations: int
    done: Mapping[str, int] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return localtime.local_date(self.now, self.timezone)

    @property
    def dpd(self) -> int:
        return max(0, (self.today - self.due_date).days)


@dataclass(frozen=True)
class Action:
    """One signal or update, performed once under ``key``."""

    key: str
    name: str
    arg: BaseModel
    signal: bool = False


def decide(profile: Profile, obs: Observation) -> list[Action]:
    if obs.stage.terminal:
        return []
    actions = _borrower(profile, obs) + _operators(profile, obs)
    return [a for a in actions if a.key not in obs.done]


# ---------------------------------------------------------------- the borrower


def _pay(key: str, amount: Decimal, obs: Observation) -> Action:
    amount = min(amount, obs.balance)
    return Action(
        key=key,
        name=c.SIGNAL_PAYMENT,
        arg=c.PaymentInput(payment_ref=key, amount=amount, paid_at=obs.now, actor=LOAN_SYSTEM),
        signal=True,
    )


def _borrower(p: Profile, obs: Observation) -> list[Action]:
    if obs.balance <= 0:
        return []
    b = p.behaviour
    out: list[Action] = []
    if b is Behaviour.PAYS_ON_REMINDER:
        early = obs.stage in (Stage.REMINDING, Stage.WAITING)
        if p.presses_one and obs.calls_sent and early and not obs.promises:
            out.append(
                Action("ivr-1", c.SIGNAL_IVR, c.IvrResponse(provider_sid="sim", digits="1"), True)
            )
        k = p.pay_after_contacts
        if len(obs.contact_days) >= k and obs.day >= obs.contact_days[k - 1] + p.delay_days:
            out.append(_pay(f"P-{p.index}-full", obs.balance, obs))
    elif b is Behaviour.DISPUTES:
        resolved = obs.done.get("dispute-resolve")
        if resolved is not None and not p.dispute_upheld and obs.day >= resolved + 3:
            out.append(_pay(f"P-{p.index}-after-dispute", obs.balance, obs))
    elif b is Behaviour.OPTS_OUT and obs.sms_sent:
        out.append(
            Action(
                "stop",
                c.SIGNAL_INBOUND,
                c.InboundMessage(provider_sid="sim", text="STOP"),
                True,
            )
        )
    out.extend(_keep_commitments(p, obs))
    return out


def _keep_commitments(p: Profile, obs: Observation) -> list[Action]:
    b = p.behaviour
    if obs.plan is not None and b in (Behaviour.KEEPS_PLAN, Behaviour.BREAKS_PLAN):
        plan = obs.plan
        for inst in plan.installments:
            if inst.status != "pending" or obs.today < inst.due_date - timedelta(days=1):
                continue
            keeps = b is Behaviour.KEEPS_PLAN or (
                plan.plan_no == 1 and inst.index == 1 and p.pays_first_installment
            )
            if keeps:
                return [_pay(f"P-{p.index}-plan{plan.plan_no}-{inst.index}", inst.amount, obs)]
        return []
    pending = [pr for pr in obs.promises if pr.status == "pending"]
    if not pending or pending[0].source == "ivr":  # an IVR promise: pays on its own schedule
        return []
    promise = pending[0]
    if promise.source == "settlement":
        if b is Behaviour.BREAKS_PLAN and not p.accepts_settlement:
            return []
        lead = 4
    else:
        lead = max(1, 6 - p.delay_days)
    if obs.today >= promise.due_date - timedelta(days=lead):
        return [_pay(f"P-{p.index}-promise{promise.seq}", promise.amount, obs)]
    return []


# ---------------------------------------------------------------- the operators


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


def _operators(p: Profile, obs: Observation) -> list[Action]:
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


def _negotiate(p: Profile, obs: Observation) -> Action:
    key = f"negotiate-{obs.negotiations + 1}"
    b = p.behaviour
    if b is Behaviour.OPTS_OUT:
        terms = c.NegotiationInput(
            reason=c.DefaultReason.OTHER, result=c.NegotiationResult.REFUSAL, actor=OPERATOR
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    count = min(p.plan_count, int(obs.balance // 100), 10)
    if b in (Behaviour.KEEPS_PLAN, Behaviour.BREAKS_PLAN) and count >= 2:
        terms = c.NegotiationInput(
            reason=c.DefaultReason.UNEMPLOYMENT,
            monthly_income=Decimal("4200.00"),
            essential_expenses=Decimal("3100.00"),
            result=c.NegotiationResult.INSTALLMENT_PLAN,
            plan=c.PlanTerms(
                count=count,
                frequency_days=PLAN_FREQUENCY_DAYS,
                first_due_in_days=PLAN_FIRST_DUE_DAYS,
            ),
            actor=OPERATOR,
        )
        return Action(key, c.UPDATE_NEGOTIATION, terms)
    terms = c.NegotiationInput(
        reason=c.DefaultReason.FORGOT,
        result=c.NegotiationResult.PROMISE,
        promise=c.PromiseTerms(amount=obs.balance, due_in_days=PROMISE_DAYS),
        actor=OPERATOR,
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


def explained(behaviour: Behaviour, stage: Stage) -> bool:
    """Whether a loan of this behaviour may be found in this stage."""
    return stage in PATHS[behaviour]
