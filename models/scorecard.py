"""Scorecards as data (DESIGN §9): bins and points in JSON, validated at load, versioned.

A scorecard scores a case's propensity to pay from what the case knows at the scoring point.
Its features come from one catalogue, ``FEATURES``; anything protected (who the borrower is,
where they live) or about health can never be one, and a scorecard naming such a feature is
refused at load with the reason. Illness as a reason for default may route a hardship offer
(treatments), never the score: the feature extractor reports it as undisclosed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


@dataclass(frozen=True)
class FeatureSpec:
    kind: Literal["number", "category"]
    label_en: str
    label_zh: str
    # category -> (en, zh) words; numbers have none
    categories: tuple[tuple[str, str, str], ...] = ()


REASON_CATEGORIES = (
    ("unemployment", "unemployment", "失业"),
    ("business_failure", "business failure", "经营失败"),
    ("forgot", "forgot to pay", "忘记还款"),
    ("dispute", "disputes the debt", "对欠款有异议"),
    ("other", "another reason", "其他原因"),
    ("undisclosed", "not given", "未说明"),
)

FEATURES: dict[str, FeatureSpec] = {
    "days_past_due": FeatureSpec("number", "days past due", "逾期天数"),
    "balance": FeatureSpec("number", "amount owed", "欠款金额"),
    "contact_attempts": FeatureSpec("number", "contacts made", "已联系次数"),
    "answer_rate": FeatureSpec("number", "share of calls answered", "电话接通比例"),
    "promises_kept": FeatureSpec("number", "promises and installments kept", "已履行承诺数"),
    "promises_broken": FeatureSpec("number", "promises and installments broken", "未履行承诺数"),
    "default_reason": FeatureSpec(
        "category", "reason for falling behind", "逾期原因", REASON_CATEGORIES
    ),
    "affordability": FeatureSpec(
        "number", "monthly disposable income against the balance", "月可支配收入与欠款之比"
    ),
}

# Never a feature, nor a category value: protected characteristics (and proxies for them) and
# health. Matched as substrings of names, case-folded.
PROTECTED_WORDS = (
    "name",
    "gender",
    "sex",
    "age",
    "birth",
    "ethnic",
    "race",
    "religion",
    "nationality",
    "marital",
    "region",
    "address",
    "postcode",
    "zip",
    "locale",
    "language",
)
HEALTH_WORDS = ("illness", "ill_", "health", "medical", "disab", "sick", "diagnos", "pregnan")


def forbidden_word(name: str) -> str | None:
    """The protected or health word a feature or category name contains, if any."""
    folded = name.casefold()
    for word in PROTECTED_WORDS + HEALTH_WORDS:
        if word in folded:
            return word
    return None


FeatureValue = Decimal | str | None


@dataclass(frozen=True)
class CaseFeatures:
    """What a case knows at the scoring point, in the catalogue's names. None: not known."""

    days_past_due: int
    balance: Decimal
    contact_attempts: int
    answer_rate: Decimal | None
    promises_kept: int
    promises_broken: int
    default_reason: str
    affordability: Decimal | None

    def value(self, name: str) -> FeatureValue:
        raw: object = getattr(self, name)
        if raw is None or isinstance(raw, str | Decimal):
            return raw
        return Decimal(str(raw))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumberBin(_Frozen):
    below: Decimal | None = Field(description="values under this fall here; null: the rest")
    points: int


class CategoryBin(_Frozen):
    values: tuple[str, ...] = Field(min_length=1)
    points: int


class Feature(_Frozen):
    name: str
    bins: tuple[NumberBin, ...] = ()
    categories: tuple[CategoryBin, ...] = ()
    missing_points: int = 0

    @model_validator(mode="after")
    def _bins_fit_the_feature(self) -> Self:
        word = forbidden_word(self.name)
        if word:
            raise ValueError(
                f"feature {self.name!r} is not allowed: {word!r} is a protected characteristic "
                "or health data, which never scores a borrower"
            )
        spec = FEATURES.get(self.name)
        if spec is None:
            raise ValueError(f"unknown feature {self.name!r}; known: {', '.join(FEATURES)}")
        if spec.kind == "number":
            self._check_numbers()
        else:
            self._check_categories(spec)
        return self

    def _check_numbers(self) -> None:
        if not self.bins or self.categories:
            raise ValueError(f"feature {self.name!r} is a number: give 'bins', not 'categories'")
        edges = [b.below for b in self.bins]
        if edges[-1] is not None or None in edges[:-1]:
            raise ValueError(f"feature {self.name!r}: only the last bin has 'below': null")
        bounded = [e for e in edges if e is not None]
        if bounded != sorted(set(bounded)):
            raise ValueError(f"feature {self.name!r}: 'below' must increase from bin to bin")

    def _check_categories(self, spec: FeatureSpec) -> None:
        if not self.categories or self.bins:
            raise ValueError(f"feature {self.name!r} is a category: give 'categories'")
        known = {key for key, _, _ in spec.categories}
        seen: list[str] = [v for b in self.categories for v in b.values]
        for value in seen:
            word = forbidden_word(value)
            if word:
                raise ValueError(
                    f"feature {self.name!r}: the category {value!r} is health data or a "
                    "protected characteristic; it may route a treatment, never the score"
                )
            if value not in known:
                raise ValueError(
                    f"feature {self.name!r}: unknown category {value!r}; known: "
                    f"{', '.join(sorted(known))}"
                )
        if len(seen) != len(set(seen)) or set(seen) != known:
            raise ValueError(f"feature {self.name!r}: every category exactly once")


class Segment(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    min_score: int
    label_en: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)


class Scorecard(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    version: int = Field(ge=1)
    base_points: int
    features: tuple[Feature, ...] = Field(min_length=1)
    segments: tuple[Segment, ...] = Field(min_length=1, description="highest min_score first")
    trained: dict[str, str] = Field(default_factory=dict, description="how it was fitted")

    @property
    def ref(self) -> str:
        return f"{self.id}@v{self.version}"

    @model_validator(mode="after")
    def _names_and_order(self) -> Self:
        names = [f.name for f in self.features]
        if len(names) != len(set(names)):
            raise ValueError("each feature appears once")
        floors = [s.min_score for s in self.segments]
        if floors != sorted(set(floors), reverse=True):
            raise ValueError("segments go from the highest min_score down, each different")
        if len({s.name for s in self.segments}) != len(self.segments):
            raise ValueError("segment names must be different")
        return self


class ScorecardError(ValueError):
    """A scorecard that cannot be used, with the file, field and reason."""


def parse_scorecard(data: object, source: str = "<data>") -> Scorecard:
    try:
        return Scorecard.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScorecardError(f"scorecard {source} is invalid: {problems}") from exc


def load_scorecard_file(path: Path) -> Scorecard:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScorecardError(f"scorecard {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ScorecardError(f"scorecard {path} is not valid JSON: {exc}") from exc
    return parse_scorecard(data, str(path))


def dump_scorecard(card: Scorecard) -> str:
    return json.dumps(card.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
