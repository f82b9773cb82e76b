"""The bench's borrowers as data: the seven behaviours, their mix, the profile each loan draws
from the seed, and what a behaviour model sees of a case (:class:`Observation`) and does
(:class:`Action`). The models themselves: :mod:`simulation.behaviour` (the borrower) and
:mod:`simulation.operators` (the operator bot).

Each loan draws a :class:`Profile` from the seed and its loan id, one random stream per
decision (``simulation.streams``), so the draws do not depend on the order the engine visits
loans in.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from models import case as c
from models.common import Stage
from models.strategy import NegotiationRules
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
class Means:
    """What the borrower tells an operator in a negotiation (the hidden-traits portfolio);
    ``hardship``: ill, or no plan of the standard bounds is affordable — the backtest's
    ground truth for "a borrower in hardship", the same whichever strategy the loan is on."""

    monthly_income: Decimal
    essential_expenses: Decimal
    reason: c.DefaultReason
    hardship: bool


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
    means: Means | None = None  # None: the bench's fixed figures


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
    # the negotiation bounds in force (the calculator's input); None: the bot's own counts
    rules: NegotiationRules | None = None
    graces_used: int = 0

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


def explained(behaviour: Behaviour, stage: Stage) -> bool:
    """Whether a loan of this behaviour may be found in this stage."""
    return stage in PATHS[behaviour]
