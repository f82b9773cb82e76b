"""Borrowers with a hidden ability and willingness to pay, for fitting scorecards (DESIGN §9).

Each borrower's traits are drawn first, from the seed and the index alone, before anything is
observed and before any scorecard exists. Everything a case could know at the scoring point
(contacts answered, promises kept and broken, the reason given, the figures given, how long
they have been behind) is then *generated* from those traits with noise, day by day; so is what
happens in the 90 days after it. A model sees only the observable part, as ``CaseFeatures`` in
the scorecard's catalogue, so it has something real to learn and cannot read the answer.

The seven bench behaviours (simulation/behaviour.py) are left as they are: ``behaviour_of``
maps traits onto them, for a backtest mix built from traits.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from models.case import DefaultReason
from models.scorecard import CaseFeatures
from models.strategy import DEFAULT_AFFORDABLE_SHARE, NegotiationRules
from simulation.profiles import DEFAULT_MIX, Behaviour, Means, Profile, draw_profile, loan_id_for
from simulation.streams import stream
from workflows.core import affordability
from workflows.core.scoring import reason_feature

HORIZON_DAYS = 90  # the label: paid in full or settled within this many days of scoring
# Contact days of a collection cadence (D+n): reminders early, then every few days.
CADENCE = (0, 1, 3, 5, 7, 10, 14, *range(18, 400, 4))
ILL_SHARE = 0.08
SETTLEMENT_FROM_DPD = 90


@dataclass(frozen=True)
class Traits:
    """Hidden: never a feature. ability and willingness in [0, 1]."""

    ability: float
    willingness: float
    ill: bool


@dataclass(frozen=True)
class SimBorrower:
    index: int
    traits: Traits
    features: CaseFeatures
    paid: bool  # the label: paid in full or settled within HORIZON_DAYS of the scoring point


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, x))


def draw_traits(rng: random.Random) -> Traits:
    ill = rng.random() < ILL_SHARE
    ability = rng.betavariate(2, 2) * (0.5 if ill else 1.0)  # illness: less to pay with, for now
    return Traits(ability=ability, willingness=rng.betavariate(2, 2), ill=ill)


def daily_hazard(t: Traits, amount: Decimal) -> float:
    """The chance, on any day, of paying the balance in full: both traits are needed."""
    size = (float(amount) - 800) / 5200  # 0 for the smallest balance, 1 for the largest
    return 0.001 + 0.03 * t.ability * t.willingness * (1 - 0.4 * size)


def _reason(t: Traits, rng: random.Random) -> DefaultReason:
    if t.ill:
        return DefaultReason.ILLNESS
    weights = {
        DefaultReason.FORGOT: 2.0 * t.ability * t.willingness,
        DefaultReason.UNEMPLOYMENT: 1.5 * (1 - t.ability),
        DefaultReason.BUSINESS_FAILURE: 0.7 * (1 - t.ability),
        DefaultReason.DISPUTE: 0.6 * (1 - t.willingness),
        DefaultReason.OTHER: 0.5,
    }
    pick, running = rng.random() * sum(weights.values()), 0.0
    for reason, weight in weights.items():
        running += weight
        if pick < running:
            return reason
    return DefaultReason.OTHER


@dataclass
class _History:
    attempts: int = 0
    answered: int = 0
    kept: int = 0
    broken: int = 0


def _contact(t: Traits, h: _History, answer_p: float, rng: random.Random) -> None:
    """One call (the answer rate counts calls): answered or not; then perhaps a promise."""
    h.attempts += 1
    if rng.random() >= answer_p:
        return
    h.answered += 1
    if rng.random() < 0.2 + 0.4 * t.willingness:  # a promise (or an installment) is agreed
        if rng.random() < 0.1 + 0.75 * t.ability:
            h.kept += 1
        else:
            h.broken += 1


def simulate_borrower(seed: int, index: int) -> SimBorrower | None:
    """One borrower up to the scoring point and 90 days beyond; None if they paid before it."""
    rng = random.Random(f"collectflow-traits:{seed}:{index}")
    traits = draw_traits(rng)  # first: nothing observed yet, no scorecard in sight
    amount = Decimal(rng.randrange(800, 6001))
    scoring_dpd = rng.randint(3, 60)
    hazard = daily_hazard(traits, amount)
    # a noisy, per-borrower reachability: willingness shows through it, not as it is
    answer_p = _clamp(0.05 + 0.7 * traits.willingness + rng.gauss(0, 0.12), 0.02, 0.95)
    history, cadence = _History(), set(CADENCE)
    for day in range(scoring_dpd):
        if rng.random() < hazard:
            return None  # self-cured before the scoring point: never scored
        if day in cadence:
            _contact(traits, history, answer_p, rng)
    engaged = history.answered > 0 and rng.random() < 0.3 + 0.6 * traits.willingness
    reason = _reason(traits, rng) if engaged else None
    affordability: Decimal | None = None
    if engaged:
        income = math.exp(rng.gauss(math.log(5000), 0.4))
        share = _clamp(0.02 + 0.45 * traits.ability + rng.gauss(0, 0.08), 0.0, 0.9)
        affordability = Decimal(str(round(income * share / float(amount), 4)))
    features = CaseFeatures(
        days_past_due=scoring_dpd,
        balance=amount,
        contact_attempts=history.attempts,
        answer_rate=(
            Decimal(str(round(history.answered / history.attempts, 4)))
            if history.attempts
            else None
        ),
        promises_kept=history.kept,
        promises_broken=history.broken,
        default_reason=reason_feature(reason.value if reason else None),
        affordability=affordability,
    )
    return SimBorrower(
        index, traits, features, _paid_within_horizon(traits, hazard, scoring_dpd, rng)
    )


def _paid_within_horizon(t: Traits, hazard: float, dpd: int, rng: random.Random) -> bool:
    """After the scoring point: paying in full goes on; from D+90 a settlement is offered."""
    for day in range(dpd, dpd + HORIZON_DAYS):
        if rng.random() < hazard * 1.3:  # collection goes on: a little more pressure
            return True
        if day >= SETTLEMENT_FROM_DPD and rng.random() < 0.01 * t.ability:
            return True
    return False


def portfolio(cases: int, seed: int) -> list[SimBorrower]:
    """``cases`` scored borrowers (those who self-cured before scoring are drawn past)."""
    out: list[SimBorrower] = []
    index = 0
    while len(out) < cases:
        borrower = simulate_borrower(seed, index)
        if borrower is not None:
            out.append(borrower)
        index += 1
    return out


def behaviour_of(t: Traits) -> Behaviour:
    """The bench behaviour closest to a borrower's traits (the behaviours stay as defined)."""
    if t.willingness >= 0.5:
        if t.ability >= 0.6:
            return Behaviour.PAYS_ON_REMINDER
        return Behaviour.KEEPS_PLAN if t.ability >= 0.35 else Behaviour.BREAKS_PLAN
    if t.ability >= 0.5:
        return Behaviour.PAYS_AFTER_VISIT if t.willingness >= 0.3 else Behaviour.OPTS_OUT
    return Behaviour.DISPUTES if t.willingness >= 0.35 else Behaviour.UNREACHABLE


# "In hardship" for the backtest's figures: ill, or no plan within the standard bounds
# (NegotiationRules' defaults, half of what is left) is affordable. The same for every arm.
STANDARD_RULES = NegotiationRules(affordable_share=DEFAULT_AFFORDABLE_SHARE)
CENTS = Decimal("0.01")


def means_of(t: Traits, amount: Decimal, rng: random.Random) -> Means:
    """What the borrower would tell an operator: figures and a reason, from the hidden traits
    with noise (as ``simulate_borrower`` draws them for training)."""
    income = math.exp(rng.gauss(math.log(5000), 0.4))
    share = _clamp(0.02 + 0.45 * t.ability + rng.gauss(0, 0.08), 0.0, 0.9)
    monthly = Decimal(str(income)).quantize(CENTS)
    expenses = (monthly * Decimal(str(round(1 - share, 4)))).quantize(CENTS)
    disposable = affordability.disposable_income(monthly, expenses)
    offer = affordability.propose(amount, disposable, STANDARD_RULES, "CNY")
    return Means(
        monthly_income=monthly,
        essential_expenses=expenses,
        reason=_reason(t, rng),
        hardship=t.ill or offer.kind in ("hardship_grace", "none"),
    )


def traits_profile(seed: int, index: int) -> Profile:
    """A backtest loan of the hidden-traits portfolio: the bench profile of its index, its
    behaviour the one closest to its traits (``behaviour_of``), its means from the traits."""
    loan_id = loan_id_for(seed, index)
    traits = draw_traits(stream(seed, loan_id, "traits"))
    base = draw_profile(seed, index, DEFAULT_MIX)
    means = means_of(traits, base.amount, stream(seed, loan_id, "means"))
    return dataclasses.replace(base, behaviour=behaviour_of(traits), means=means)
