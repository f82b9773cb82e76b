"""Borrower behaviour models, as seeded pure functions; :func:`decide` adds the operator bot.

At every observable point — once a simulated day, after the case's read model has caught up —
:func:`decide` maps the profile and an :class:`Observation` of the case to the actions the
borrower and the operators take now. Each action carries a ``key``: the driver performs a key
once, and tells :func:`decide` on which day it did so. The data (behaviours, mix, profiles)
lives in :mod:`simulation.profiles` and is re-exported here for the callers that know it here.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from models import case as c
from models.common import Actor, Role, Stage
from simulation.operators import OPERATOR, SUPERVISOR, operators
from simulation.profiles import (
    DEFAULT_MIX,
    PATHS,
    Action,
    Behaviour,
    MixError,
    Observation,
    Profile,
    draw_profile,
    explained,
    loan_id_for,
    parse_mix,
)

__all__ = [
    "DEFAULT_MIX",
    "OPERATOR",
    "PATHS",
    "SUPERVISOR",
    "Action",
    "Behaviour",
    "MixError",
    "Observation",
    "Profile",
    "decide",
    "draw_profile",
    "explained",
    "loan_id_for",
    "parse_mix",
]

LOAN_SYSTEM = Actor(id="sim-loan-system", role=Role.SYSTEM)


def decide(profile: Profile, obs: Observation) -> list[Action]:
    if obs.stage.terminal:
        return []
    actions = _borrower(profile, obs) + operators(profile, obs)
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
