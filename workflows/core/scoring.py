"""Scoring a case with the strategy's scorecard (DESIGN §9): a pure function, so it replays.

``features`` reads only what the case knows at the scoring point; ``score`` adds the points of
each feature's bin to the base, picks the segment, and names the three features that cost the
most points against their best bin, in plain words (en, zh-CN) a borrower can be told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.case import ContactOutcome, DefaultReason
from models.common import Channel
from models.scorecard import FEATURES, CaseFeatures, Feature, FeatureValue, Scorecard
from models.strategy import Strategy
from workflows.core import affordability, clock
from workflows.core.state import CaseState

# Outcomes that were not an attempt to reach the borrower (the gate held it back).
NOT_ATTEMPTS = frozenset({ContactOutcome.DEFERRED, ContactOutcome.BLOCKED, ContactOutcome.SKIPPED})
RATIO = Decimal("0.0001")


def reason_feature(reason: str | None) -> str:
    """The reason for default as the scorecard may see it: illness is never scored."""
    if reason is None or reason == DefaultReason.ILLNESS.value:
        return "undisclosed"
    return reason


def features(s: CaseState, strategy: Strategy, now: datetime) -> CaseFeatures:
    attempts = [x for x in s.contacts if not x.transactional and x.outcome not in NOT_ATTEMPTS]
    # a response is an answered call (an SMS has no answer the case can see)
    calls = [x for x in attempts if x.channel is Channel.CALL]
    answered = sum(1 for x in calls if x.connected)
    rate = (Decimal(answered) / len(calls)).quantize(RATIO) if calls else None
    disposable = affordability.disposable_income(s.monthly_income, s.essential_expenses)
    ratio = (
        (disposable / s.balance).quantize(RATIO)
        if disposable is not None and s.balance > 0
        else None
    )
    return CaseFeatures(
        days_past_due=clock.dpd(s, strategy, now),
        balance=s.balance,
        contact_attempts=len(attempts),
        answer_rate=rate,
        promises_kept=sum(1 for x in s.commitments if x.status == "kept"),
        promises_broken=sum(1 for x in s.commitments if x.status == "broken"),
        default_reason=reason_feature(s.default_reason),
        affordability=ratio,
    )


@dataclass(frozen=True)
class Reason:
    feature: str
    points_lost: int
    en: str
    zh: str


@dataclass(frozen=True)
class Score:
    scorecard: str  # id@vN
    score: int
    segment: str
    reasons: tuple[Reason, ...]

    def summary(self) -> str:
        words = "; ".join(r.en for r in self.reasons) or "no feature lowered the score"
        return f"{self.scorecard}: score {self.score}, segment {self.segment}: {words}"


def _words(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def bin_words(feature: Feature, index: int) -> tuple[str, str]:
    if index < 0:
        return "not known", "未知"
    if feature.categories:
        spec = FEATURES[feature.name]
        words = {key: (en, zh) for key, en, zh in spec.categories}
        values = feature.categories[index].values
        return " or ".join(words[v][0] for v in values), "或".join(words[v][1] for v in values)
    low, high = (_words(feature.bins[i].below) if i >= 0 else None for i in (index - 1, index))
    if low is None and high is not None:
        return f"under {high}", f"低于 {high}"
    if high is None:
        return (f"{low} or more", f"{low} 及以上") if low is not None else ("any", "任意")
    return f"{low} to under {high}", f"{low} 至 {high} 以下"


def _place(feature: Feature, value: FeatureValue) -> tuple[int, int]:
    """(bin index, points); index -1 is the missing bin."""
    if value is None:
        return -1, feature.missing_points
    if isinstance(value, str):
        for i, group in enumerate(feature.categories):
            if value in group.values:
                return i, group.points
        return -1, feature.missing_points
    for i, b in enumerate(feature.bins):
        if b.below is not None and value < b.below:
            return i, b.points
    return len(feature.bins) - 1, feature.bins[-1].points  # validation: the last bin is open


def _best(feature: Feature) -> int:
    points = [b.points for b in feature.bins] + [g.points for g in feature.categories]
    return max([*points, feature.missing_points])


def score(card: Scorecard, case: CaseFeatures) -> Score:
    total, lost = card.base_points, []
    for feature in card.features:
        index, points = _place(feature, case.value(feature.name))
        total += points
        gap = _best(feature) - points
        if gap > 0:
            en, zh = bin_words(feature, index)
            spec = FEATURES[feature.name]
            lost.append(
                Reason(
                    feature=feature.name,
                    points_lost=gap,
                    en=f"{spec.label_en} is {en}, which lowers the score by {gap} points",
                    zh=f"{spec.label_zh}为{zh}，评分因此降低 {gap} 分",
                )
            )
    lost.sort(key=lambda r: -r.points_lost)  # stable: ties keep the scorecard's order
    segment = next((s.name for s in card.segments if total >= s.min_score), card.segments[-1].name)
    return Score(scorecard=card.ref, score=total, segment=segment, reasons=tuple(lost[:3]))


def score_case(s: CaseState, strategy: Strategy, now: datetime) -> Score | None:
    """The case's score under its strategy's scorecard; None when the strategy has none."""
    if strategy.scorecard is None:
        return None
    return score(strategy.scorecard, features(s, strategy, now))
