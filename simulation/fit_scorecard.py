"""Fitting and evaluating a scorecard (``collectflow model``), with scikit-learn.

Numbers are binned by a small decision tree per feature (supervised binning), categories keep
their own bins; each bin's weight of evidence feeds a logistic regression, and the points are
its coefficients scaled so 20 points double the odds of paying (PDO 20, 600 at even odds).
Scores on held-out cases are computed by the core's own ``score`` on the written scorecard,
so the figures are the scorecard's, not the model's before rounding.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.tree import DecisionTreeClassifier

from models.scorecard import (
    FEATURES,
    CaseFeatures,
    CategoryBin,
    Feature,
    NumberBin,
    Scorecard,
    Segment,
)
from workflows.core.scoring import score


class Labelled(Protocol):
    """A scored case and its outcome: a simulated borrower or a closed case of the database."""

    @property
    def features(self) -> CaseFeatures: ...

    @property
    def paid(self) -> bool: ...


L = TypeVar("L", bound=Labelled)

PDO, BASE_SCORE = 20.0, 600.0
FACTOR = PDO / math.log(2)
# Segments by the predicted chance of paying within 90 days (DESIGN §9's examples).
SEGMENT_CUTS = (
    ("likely_to_pay", 0.65, "likely to pay without help", "有望自行还款"),
    ("needs_a_plan", 0.35, "can pay with a plan", "分期可还"),
    ("unlikely_to_pay", 0.0, "unlikely to pay without a visit", "需上门沟通"),
)


def _number_bins(x: np.ndarray, y: np.ndarray, leaves: int, min_leaf: int) -> list[Decimal | None]:
    tree = DecisionTreeClassifier(max_leaf_nodes=leaves, min_samples_leaf=min_leaf, random_state=0)
    tree.fit(x.reshape(-1, 1), y)
    cuts = sorted(
        {float(t) for t, f in zip(tree.tree_.threshold, tree.tree_.feature, strict=True) if f >= 0}
    )
    # A tree sends x <= t left; a bin takes x < below: below is the smallest value seen above t,
    # so edges read as values a person knows (8 days, 0.38), not as the tree's midpoints.
    seen = np.unique(x)
    edges = {_tidy(Decimal(str(float(seen[seen > t].min())))) for t in cuts}
    return [*sorted(edges), None]


def _tidy(d: Decimal) -> Decimal:
    """8 rather than 8.0 or 1E+1; 0.38 rather than 0.3800."""
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def _woe(good: int, bad: int, goods: int, bads: int) -> float:
    return math.log((good + 0.5) / (goods + 0.5)) - math.log((bad + 0.5) / (bads + 0.5))


@dataclass
class _Binned:
    name: str
    edges: list[Decimal | None]  # numbers
    groups: list[tuple[str, ...]]  # categories
    woe: list[float]
    missing_woe: float


def _bin_index(b: _Binned, value: Decimal | str | None) -> int:
    if value is None:
        return -1
    if isinstance(value, str):
        return next(i for i, g in enumerate(b.groups) if value in g)
    return next(i for i, e in enumerate(b.edges) if e is None or value < e)


def _bin_feature(name: str, rows: Sequence[CaseFeatures], y: np.ndarray) -> _Binned:
    values = [r.value(name) for r in rows]
    spec = FEATURES[name]
    goods, bads = int(y.sum()), int(len(y) - y.sum())
    if spec.kind == "category":
        binned = _Binned(name, [], [(key,) for key, _, _ in spec.categories], [], 0.0)
    else:
        known = np.array([float(v) for v in values if v is not None])
        known_y = np.array([t for v, t in zip(values, y, strict=True) if v is not None])
        edges: list[Decimal | None] = [None]
        if len(known) >= 20 and len(set(known_y)) == 2:
            edges = _number_bins(known, known_y, leaves=4, min_leaf=max(10, len(y) // 12))
        binned = _Binned(name, edges, [], [], 0.0)
    count = len(binned.groups) or len(binned.edges)
    good, bad = [0] * (count + 1), [0] * (count + 1)  # the last slot: missing
    for v, t in zip(values, y, strict=True):
        i = _bin_index(binned, v)
        (good if t else bad)[i] += 1
    binned.woe = [_woe(good[i], bad[i], goods, bads) for i in range(count)]
    binned.missing_woe = _woe(good[-1], bad[-1], goods, bads) if good[-1] + bad[-1] else 0.0
    return binned


def _woe_matrix(binned: Sequence[_Binned], rows: Sequence[CaseFeatures]) -> np.ndarray:
    out = np.zeros((len(rows), len(binned)))
    for j, b in enumerate(binned):
        for i, row in enumerate(rows):
            k = _bin_index(b, row.value(b.name))
            out[i, j] = b.missing_woe if k < 0 else b.woe[k]
    return out


def _to_feature(b: _Binned, coef: float) -> Feature:
    def points(w: float) -> int:
        return round(FACTOR * coef * w)

    missing = points(b.missing_woe)
    if b.groups:
        cats = tuple(
            CategoryBin(values=g, points=points(w)) for g, w in zip(b.groups, b.woe, strict=True)
        )
        return Feature(name=b.name, categories=cats, missing_points=missing)
    bins = tuple(NumberBin(below=e, points=points(w)) for e, w in zip(b.edges, b.woe, strict=True))
    return Feature(name=b.name, bins=bins, missing_points=missing)


def _segments() -> tuple[Segment, ...]:
    """Cut-offs on the score scale (600 is even odds), from the chances in SEGMENT_CUTS."""
    out = []
    for name, p, en, zh in SEGMENT_CUTS:
        floor = -10_000 if p <= 0 else round(BASE_SCORE + FACTOR * math.log(p / (1 - p)))
        out.append(Segment(name=name, min_score=floor, label_en=en, label_zh=zh))
    return tuple(out)


def split(borrowers: Sequence[L], held_out: float, seed: int) -> tuple[list[L], list[L]]:
    order = list(range(len(borrowers)))
    random.Random(f"collectflow-split:{seed}").shuffle(order)
    cut = int(len(order) * (1 - held_out))
    return [borrowers[i] for i in order[:cut]], [borrowers[i] for i in order[cut:]]


def fit(
    train: Sequence[Labelled],
    card_id: str,
    version: int,
    trained: dict[str, str],
    names: Sequence[str] = tuple(FEATURES),
) -> Scorecard:
    rows = [b.features for b in train]
    y = np.array([1 if b.paid else 0 for b in train])
    binned = [_bin_feature(name, rows, y) for name in names]
    model = LogisticRegression(C=1.0, max_iter=1_000)
    model.fit(_woe_matrix(binned, rows), y)
    coefs = [float(c) for c in model.coef_[0]]
    base = round(BASE_SCORE + FACTOR * float(model.intercept_[0]))
    features = tuple(_to_feature(b, c) for b, c in zip(binned, coefs, strict=True))
    return Scorecard(
        id=card_id,
        version=version,
        base_points=base,
        features=features,
        segments=_segments(),
        trained=trained,
    )


@dataclass(frozen=True)
class Figures:
    cases: int
    paid_share: float
    auc: float
    ks: float
    baseline_auc: float
    baseline_ks: float


def _auc_ks(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    fpr, tpr, _ = roc_curve(y, scores)
    return float(roc_auc_score(y, scores)), float(np.max(tpr - fpr))


def baseline(train: Sequence[Labelled]) -> Scorecard:
    """The days-past-due-only scorecard, fitted the same way on the same cases."""
    return fit(train, "dpd-baseline", 1, {}, names=("days_past_due",))


def evaluate(card: Scorecard, base: Scorecard, cases: Sequence[Labelled]) -> Figures:
    """KS and AUC of the scorecard and of the baseline, both scored by the core."""
    y = np.array([1 if b.paid else 0 for b in cases])
    scores = np.array([score(card, b.features).score for b in cases], dtype=float)
    plain = np.array([score(base, b.features).score for b in cases], dtype=float)
    auc, ks = _auc_ks(y, scores)
    base_auc, base_ks = _auc_ks(y, plain)
    return Figures(len(cases), float(y.mean()), auc, ks, base_auc, base_ks)
