"""Collection strategies: versioned data, loaded from TOML, validated and frozen.

A strategy travels whole in the workflow input, so a running case never changes behaviour when
the file changes. Days are *strategy days*: ``day_seconds`` long (86,400 in production; 60 in the
``demo`` strategy so a person can watch a case move; a few seconds in tests). Frequency caps count
in strategy days too, so a compressed strategy keeps its shape; the contact window is always the
borrower's real local clock.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.common import SUPPORTED_LOCALES, Channel, StrategyRef
from models.scorecard import Scorecard, ScorecardError, load_scorecard_file
from models.treatments import HARDSHIP, OFFER_TEMPLATE, Treatment
from models.treatments import Path as TreatmentPath


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


# Templates the workflow itself sends, beyond the reminder cadence.
REQUIRED_SMS_TEMPLATES = (
    "visit_proposal",
    "visit_reminder",
    "installment_reminder",
    "promise_reminder",
    "thank_you",
)

# Words no collection message may carry: threats, shaming, intimidation (Reg F §1006.14,
# the Chinese consumer-loan collection conduct rules). Matched case-insensitively.
BANNED_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "arrest",
        "jail",
        "prison",
        "police",
        "sue you",
        "lawsuit",
        "criminal",
        "shame",
        "deadbeat",
        "liar",
        "thief",
        "fraudster",
        "expose",
        "your employer",
        "your family",
        "neighbours",
        "neighbors",
        "or else",
        "last chance",
        "seize",
    ),
    "zh-CN": (
        "逮捕",
        "坐牢",
        "监狱",
        "报警",
        "警察",
        "起诉你",
        "犯罪",
        "老赖",
        "骗子",
        "曝光",
        "通讯录",
        "你的家人",
        "单位",
        "后果自负",
        "否则",
        "丢人",
        "没脸",
        "强制执行",
        "拘留",
    ),
}

OPT_OUT_MARKERS: dict[str, tuple[str, ...]] = {
    "en": ("reply stop",),
    "zh-CN": ("退订",),
}


class TemplateLintError(ValueError):
    pass


def lint_template(name: str, template: Template, channel: Channel, strategy: Strategy) -> None:
    """Refuse a template that would break the conduct rules, naming the template and the word."""
    companies = {"en": strategy.company_name, "zh-CN": strategy.company_name_zh}
    for locale in SUPPORTED_LOCALES:
        # The {company} placeholder is filled from the strategy, so it counts as naming it.
        text = template.text(locale).replace("{company}", companies[locale])
        lowered = text.lower()
        if companies[locale].lower() not in lowered:
            raise TemplateLintError(
                f"template {name!r} ({locale}) must name the company {companies[locale]!r}"
            )
        for word in BANNED_WORDS[locale]:
            if word in lowered:
                raise TemplateLintError(
                    f"template {name!r} ({locale}) contains the forbidden word {word!r}"
                )
        if channel is Channel.SMS and not any(m in lowered for m in OPT_OUT_MARKERS[locale]):
            raise TemplateLintError(
                f"SMS template {name!r} ({locale}) must carry an opt-out line "
                f"({' / '.join(OPT_OUT_MARKERS[locale])})"
            )
        if channel is Channel.SMS:
            worst = render(
                template, locale, {**LONGEST_FIELDS[locale], "company": companies[locale]}
            )
            if sms_segments(worst) > MAX_SMS_SEGMENTS:
                raise TemplateLintError(
                    f"SMS template {name!r} ({locale}) takes {sms_segments(worst)} SMS segments "
                    f"with a long name and the link; at most {MAX_SMS_SEGMENTS} are allowed"
                )


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
TEMPLATE_FIELDS = frozenset(
    {
        "name",
        "company",
        "amount",
        "currency",
        "due_date",
        "visit_time",
        "index",
        "count",
        "date",
        "link",
    }
)
# ``{link}`` is left in the text the workflow renders; the send activity mints the borrower's
# link and puts it there (activities/links.py), so the workflow never sees a token.
LINK_FIELD = "{link}"
MAX_SMS_SEGMENTS = 2
# The link as long as a production one may be: https, a 26-character host, /b/, a 22-character
# token. The lint fills every field with a value this long, so a real send fits as well.
LONGEST_LINK = "https://pay.collect.example.com.cn/b/" + "x" * 22
LONGEST_FIELDS: dict[str, dict[str, str]] = {
    locale: {
        "name": name,
        "amount": "1234567.89",
        "currency": "CNY",
        "due_date": "2026-12-31",
        "date": "2026-12-31",
        "visit_time": visit,
        "index": "12",
        "count": "12",
        "days": "14",
        "link": LONGEST_LINK,
    }
    for locale, name, visit in (
        ("en", "Alexandra Catherine Montgomery-Smith", "Thu 31 Dec 19:30, Fri 1 Jan 10:00"),
        ("zh-CN", "欧阳娜娜丽莎", "12月31日 19:30、1月1日 10:00"),
    )
}
# GSM 03.38: the basic set and the extension set (which takes two septets).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS segments the text takes: GSM-7 (160, or 153 each when split) when every
    character is in the GSM set, else UCS-2 (70, or 67 each), counted in UTF-16 units."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units, single, part = sum(2 if ch in GSM_EXTENDED else 1 for ch in text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // part)


def render(template: Template, locale: str, fields: dict[str, str]) -> str:
    """Fill ``{placeholders}``; unknown ones are left visible rather than crashing a send."""
    text = template.text(locale)
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group(0)), text)


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
