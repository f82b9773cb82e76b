"""Segment -> treatment (DESIGN §4, §9): the path and bounds a scored case gets, purely.

Hardship (illness as the reason, or no affordable plan) is routed first: it may change the
offer, never the score. Then the segment's treatment; without one, the strategy as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.case import DefaultReason
from models.common import Channel
from models.strategy import NegotiationRules, Strategy
from models.treatments import HARDSHIP, Path, Treatment
from workflows.core import affordability
from workflows.core.state import CaseState


@dataclass(frozen=True)
class Choice:
    segment: str
    path: Path
    negotiation: NegotiationRules
    wait_days: int
    max_reminders: int  # of the strategy's reminder steps, how many to send
    why: str
    sms_only: bool = False  # reminder calls are skipped


def _rules(base: NegotiationRules, t: Treatment) -> NegotiationRules:
    changes = {
        name: getattr(t, name)
        for name in ("min_installments", "max_installments", "affordable_share", "max_grace_days")
        if getattr(t, name) is not None
    }
    # model_copy skips validation: validate the merged bounds so a treatment cannot break them.
    return NegotiationRules.model_validate({**base.model_dump(), **changes})


def in_hardship(s: CaseState, strategy: Strategy) -> bool:
    """Illness as the reason for falling behind, or no plan the borrower can afford."""
    if s.default_reason == DefaultReason.ILLNESS.value:
        return True
    if s.balance <= 0:
        return False
    disposable = affordability.disposable_income(s.monthly_income, s.essential_expenses)
    if disposable is None or strategy.negotiation.affordable_share is None:
        return False
    proposal = affordability.propose(s.balance, disposable, strategy.negotiation, s.currency)
    return proposal.kind in ("hardship_grace", "none")


def choose(strategy: Strategy, segment: str, *, hardship: bool = False) -> Choice:
    by_segment = {t.segment: t for t in strategy.treatments}
    key = HARDSHIP if hardship and HARDSHIP in by_segment else segment
    treatment = by_segment.get(key)
    if treatment is None:
        return Choice(
            segment=segment,
            path=Path.STANDARD,
            negotiation=strategy.negotiation,
            wait_days=strategy.wait.days,
            max_reminders=len(strategy.reminders),
            why=f"segment {segment}: no treatment of its own, the strategy as written",
        )
    wait = strategy.wait.days if treatment.wait_days is None else treatment.wait_days
    count = len(strategy.reminders)
    reminders = count if treatment.max_reminders is None else min(count, treatment.max_reminders)
    why = (
        f"hardship: treatment {treatment.path.value}"
        if key == HARDSHIP
        else f"segment {segment}: treatment {treatment.path.value}"
    )
    return Choice(
        segment=segment,
        path=treatment.path,
        negotiation=_rules(strategy.negotiation, treatment),
        wait_days=wait,
        max_reminders=reminders,
        why=why,
        sms_only=treatment.sms_only,
    )


def in_force(s: CaseState, strategy: Strategy) -> Choice | None:
    """The treatment of the case's last assessment; None before any (a strategy without a
    scorecard never assesses, so its cases run as written)."""
    if s.segment is None:
        return None
    return choose(strategy, s.segment, hardship=s.hardship)


def wait_days(s: CaseState, strategy: Strategy) -> int:
    choice = in_force(s, strategy)
    return strategy.wait.days if choice is None else choice.wait_days


def reminder_skip(s: CaseState, strategy: Strategy, index: int) -> str | None:
    """Why the treatment leaves reminder step ``index`` unsent, or None to send it. A skipped
    step is still passed at its time, so the stage's calendar (and the visit) does not move
    earlier: a light touch means fewer contacts, not a sooner visit."""
    choice = in_force(s, strategy)
    if choice is None:
        return None
    if index >= choice.max_reminders:
        return f"the {choice.path.value} treatment sends {choice.max_reminders} reminders"
    if choice.sms_only and strategy.reminders[index].channel is Channel.CALL:
        return f"the {choice.path.value} treatment sends SMS only"
    return None


def hardship_offer(s: CaseState, strategy: Strategy) -> affordability.Proposal | None:
    """What a hardship_first treatment offers now: illness is genuine hardship whatever the
    figures — a grace, while one is left (illness routes the offer; it never touches the
    score); otherwise the calculator's affordable plan or grace."""
    choice = in_force(s, strategy)
    if choice is None or choice.path is not Path.HARDSHIP_FIRST or s.balance <= 0:
        return None
    proposal = propose_for(s, strategy)
    rules = choice.negotiation
    ill = s.default_reason == DefaultReason.ILLNESS.value
    if ill and s.graces_used < rules.max_graces:
        return affordability.Proposal(
            kind="hardship_grace",
            grace_days=rules.max_grace_days,
            why=f"Illness was given as the reason: offer a hardship grace of "
            f"{rules.max_grace_days} days, then assess again.",
        )
    if proposal.kind in ("plan", "hardship_grace"):
        return proposal
    return None


def rules_in_force(s: CaseState, strategy: Strategy) -> NegotiationRules:
    """The negotiation bounds for this case now: its last assessment's treatment, else the
    strategy's own (a strategy without a scorecard never assesses)."""
    if s.segment is None:
        return strategy.negotiation
    return choose(strategy, s.segment, hardship=s.hardship).negotiation


def propose_for(
    s: CaseState,
    strategy: Strategy,
    *,
    income: Decimal | None = None,
    expenses: Decimal | None = None,
    frequency_days: int = affordability.MONTH_DAYS,
) -> affordability.Proposal:
    """The calculator for a case (the console and the borrower's page ask this): figures given
    now, else the ones the case learnt; the bounds in force for its treatment."""
    if income is None or expenses is None:
        income, expenses = s.monthly_income, s.essential_expenses
    return affordability.propose(
        s.balance,
        affordability.disposable_income(income, expenses),
        rules_in_force(s, strategy),
        s.currency,
        frequency_days=frequency_days,
        graces_used=s.graces_used,
    )
