"""Collection strategies: versioned data, loaded from TOML, validated and frozen.

A strategy travels whole in the workflow input, so a running case never changes behaviour when
the file changes. Days are *strategy days*: ``day_seconds`` long (86,400 in production; 60 in the
``demo`` strategy so a person can watch a case move; a few seconds in tests). Frequency caps count
in strategy days too, so a compressed strategy keeps its shape; the contact window is always the
borrower's real local clock.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.common import Channel, StrategyRef
from models.scorecard import Scorecard, ScorecardError, load_scorecard_file
from models.template_lint import (
    BANNED_WORDS,
    GSM_BASIC,
    GSM_EXTENDED,
    LINK_FIELD,
    LONGEST_FIELDS,
    LONGEST_LINK,
    MAX_SMS_SEGMENTS,
    OPT_OUT_MARKERS,
    REQUIRED_SMS_TEMPLATES,
    TEMPLATE_FIELDS,
    TemplateLintError,
    lint_template,
    render,
    sms_segments,
)
from models.treatments import HARDSHIP, OFFER_TEMPLATE, Treatment
from models.treatments import Path as TreatmentPath

# The template rules live in ``models.template_lint``; callers import them from here too.
__all__ = [
    "BANNED_WORDS",
    "GSM_BASIC",
    "GSM_EXTENDED",
    "LINK_FIELD",
    "LONGEST_FIELDS",
    "LONGEST_LINK",
    "MAX_SMS_SEGMENTS",
    "OPT_OUT_MARKERS",
    "REQUIRED_SMS_TEMPLATES",
    "TEMPLATE_FIELDS",
    "TemplateLintError",
    "lint_template",
    "render",
    "sms_segments",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReminderStep(_Frozen):
    day: int = Field(ge=0, description="strategy days after the due date (D+n)")
    channel: Channel
    template: str
    at: time | None = Field(default=None, description="preferred local time of day")


class WaitRules(_Frozen):
    days: int = Field(default=7, ge=0)


class VisitRules(_Frozen):
    notice_days: int = Field(default=3, ge=1, description="the proposed slot is this far ahead")
    at: time | None = None
    reminder_lead_days: int = Field(default=1, ge=0)
    confirm_within_days: int = Field(default=2, ge=1)
    outcome_within_hours: int = Field(default=24, ge=1)
    collectors: int = Field(default=2, ge=2, description="conduct rules: at least two")
    max_visits: int = Field(default=3, ge=1)


# The share of disposable income an installment may take when a strategy file names none.
DEFAULT_AFFORDABLE_SHARE = Decimal("0.5")


class NegotiationRules(_Frozen):
    min_installments: int = Field(default=2, ge=2)
    max_installments: int = Field(default=12, ge=2)
    min_installment_share: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    min_installment_amount: Decimal = Field(default=Decimal("100"), ge=0)
    first_due_within_days: int = Field(default=14, ge=1)
    promise_within_days: int = Field(default=14, ge=1)
    max_grace_days: int = Field(default=30, ge=1)
    max_graces: int = Field(default=2, ge=0)
    decide_within_days: int = Field(default=7, ge=1)
    # The most of the borrower's disposable income (income less essential expenses) one
    # installment may take, per month (DESIGN §9). None: no affordability check — only for
    # strategies carried by cases older than the rule; a TOML file without it gets
    # DEFAULT_AFFORDABLE_SHARE (load_strategy_file). A case without income data is never
    # refused on it.
    affordable_share: Decimal | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Self:
        if self.max_installments < self.min_installments:
            raise ValueError("max_installments must be at least min_installments")
        return self


class FollowUpRules(_Frozen):
    reminder_lead_days: int = Field(default=2, ge=0)
    check_after_days: int = Field(default=3, ge=0)
    broken_to_renegotiate: int = Field(default=1, ge=1)
    broken_to_escalate: int = Field(default=2, ge=1)


class EscalationRules(_Frozen):
    decide_within_days: int = Field(default=5, ge=1)
    remind_every_days: int = Field(default=1, ge=1)
    legal_min_dpd: int = Field(default=60, ge=0)


class ComplianceRules(_Frozen):
    window_start: time = time(8, 0)
    window_end: time = time(21, 0)
    max_call_attempts_7d: int = Field(default=7, ge=0)
    call_quiet_days_after_conversation: int = Field(default=7, ge=0)
    max_connected_calls_day: int = Field(default=3, ge=0)
    max_unanswered_calls_day: int = Field(default=6, ge=0)
    max_sms_day: int = Field(default=1, ge=0)
    max_sms_7d: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _window_ordered(self) -> Self:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class BorrowerPageRules(_Frozen):
    """The borrower's own page (``/b/{token}``): how long a link lives and how it is guarded."""

    link_valid_days: int = Field(
        default=14, ge=1, le=90, description="real days, not strategy days"
    )
    code_valid_minutes: int = Field(default=10, ge=1, le=60)
    max_codes_per_link: int = Field(default=5, ge=1, le=20)
    max_wrong_tries: int = Field(default=5, ge=1, le=20)
    lock_minutes: int = Field(default=30, ge=1, description="doubles with each further lock")
    session_minutes: int = Field(default=30, ge=5, le=24 * 60)


class Template(_Frozen):
    en: str
    zh_CN: str = Field(alias="zh-CN")

    def text(self, locale: str) -> str:
        return self.zh_CN if locale == "zh-CN" else self.en


class Strategy(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    version: int = Field(ge=1)
    company_name: str = Field(min_length=1)
    company_name_zh: str = Field(min_length=1)
    day_seconds: int = Field(default=86_400, ge=1)
    # A demo strategy (compressed days, made for watching a case move) is refused outside
    # COLLECTFLOW_ENV=development: at start-up when configured, per event when named.
    demo: bool = False
    reminders: tuple[ReminderStep, ...]
    wait: WaitRules = WaitRules()
    visit: VisitRules = VisitRules()
    negotiation: NegotiationRules = NegotiationRules()
    follow_up: FollowUpRules = FollowUpRules()
    escalation: EscalationRules = EscalationRules()
    compliance: ComplianceRules = ComplianceRules()
    borrower_page: BorrowerPageRules = BorrowerPageRules()
    continue_as_new_events: int = Field(default=2_000, ge=100)
    templates: dict[str, Template]
    # DESIGN §9: carried whole, like templates, so scoring replays exactly. In TOML the
    # strategy names a file of scorecards/ beside it (``scorecard = "propensity"``).
    scorecard: Scorecard | None = None
    treatments: tuple[Treatment, ...] = ()

    @property
    def ref(self) -> StrategyRef:
        return StrategyRef(id=self.id, version=self.version)

    @model_validator(mode="after")
    def _treatments_name_segments(self) -> Self:
        names = [t.segment for t in self.treatments]
        if len(names) != len(set(names)):
            raise ValueError("each segment has at most one treatment")
        known = {HARDSHIP} | {s.name for s in self.scorecard.segments} if self.scorecard else None
        for name in names:
            if known is not None and name not in known:
                raise ValueError(
                    f"treatment for unknown segment {name!r}; the scorecard's segments and "
                    f"{HARDSHIP!r} are: {', '.join(sorted(known))}"
                )
        return self

    @model_validator(mode="after")
    def _templates_exist_and_are_clean(self) -> Self:
        ordered = [r.day for r in self.reminders]
        if ordered != sorted(ordered):
            raise ValueError("reminders must be in day order")
        needed = {r.template: r.channel for r in self.reminders}
        needed.update({name: Channel.SMS for name in REQUIRED_SMS_TEMPLATES})
        if OFFER_TEMPLATE in self.templates or any(
            t.path is TreatmentPath.HARDSHIP_FIRST for t in self.treatments
        ):  # a hardship_first treatment sends its offer by SMS
            needed[OFFER_TEMPLATE] = Channel.SMS
        for name, channel in needed.items():
            if name not in self.templates:
                raise ValueError(f"template {name!r} is used but not defined")
            lint_template(name, self.templates[name], channel, self)
        return self


class StrategyError(ValueError):
    """A strategy file that cannot be used, with the file, field and reason."""


def parse_strategy(data: dict[str, object], source: str = "<data>") -> Strategy:
    try:
        return Strategy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise StrategyError(f"strategy {source} is invalid: {problems}") from exc


def load_strategy_file(path: Path) -> Strategy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StrategyError(f"strategy {path} is not valid TOML: {exc}") from exc
    negotiation = data.setdefault("negotiation", {})
    if isinstance(negotiation, dict):
        # DESIGN §9: a plan may not exceed the strategy's share of disposable income — on unless
        # the file names its own share. (The field's own default stays None, so a strategy
        # carried in an older case's input decodes as it ran.)
        negotiation.setdefault("affordable_share", str(DEFAULT_AFFORDABLE_SHARE))
    card = data.get("scorecard")
    if isinstance(card, str):
        try:
            data["scorecard"] = load_scorecard_file(path.parent / "scorecards" / f"{card}.json")
        except ScorecardError as exc:
            raise StrategyError(f"strategy {path}: {exc}") from exc
    return parse_strategy(data, str(path))


def load_strategy(name: str, directory: Path) -> Strategy:
    path = directory / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.toml"))
        raise StrategyError(f"unknown strategy {name!r}; known: {', '.join(known) or 'none'}")
    return load_strategy_file(path)


def refuse_demo(strategy: Strategy, allow_demo: bool) -> Strategy:
    """The strategy, unless it is a demo one and demo strategies are not allowed here."""
    if strategy.demo and not allow_demo:
        raise StrategyError(
            f"strategy {strategy.id!r} is a demo strategy (demo = true); demo strategies run "
            "only with COLLECTFLOW_ENV=development"
        )
    return strategy


def load_all_strategies(directory: Path) -> dict[str, Strategy]:
    """Load and lint every strategy: a bad template stops start-up, not a case."""
    return {p.stem: load_strategy_file(p) for p in sorted(directory.glob("*.toml"))}


def challenger_bucket(loan_id: str) -> float:
    """A stable number in [0, 1) for a loan id: the same loan always lands in the same arm."""
    digest = hashlib.sha256(loan_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_strategy(loan_id: str, champion: str, challenger: str | None, share: float) -> str:
    if challenger and challenger_bucket(loan_id) < share:
        return challenger
    return champion
