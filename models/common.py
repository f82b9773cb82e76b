"""Shared vocabulary of the case: enums, the actor, money and the loan/borrower snapshot."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

WORKFLOW_TYPE = "CollectionCase"


def case_id_for(loan_id: str) -> str:
    return f"case-{loan_id}"


class Stage(StrEnum):
    REMINDING = "reminding"
    WAITING = "waiting"
    VISIT = "visit"
    NEGOTIATING = "negotiating"
    FOLLOW_UP = "follow_up"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    SETTLED = "settled"
    LEGAL = "legal"
    WRITTEN_OFF = "written_off"
    CLOSED = "closed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STAGES


TERMINAL_STAGES = frozenset(
    {Stage.RESOLVED, Stage.SETTLED, Stage.LEGAL, Stage.WRITTEN_OFF, Stage.CLOSED}
)


class Role(StrEnum):
    SYSTEM = "system"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # An actor, never an API-key role: what a borrower does on their own page (DESIGN §3).
    BORROWER = "borrower"


API_KEY_ROLES = frozenset({Role.SYSTEM, Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})


class Channel(StrEnum):
    SMS = "sms"
    CALL = "call"


class Actor(BaseModel):
    """Who did it: every action carries one so it stands in the history."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    role: Role


SYSTEM_ACTOR = Actor(id="collectflow", role=Role.SYSTEM)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite decimal amount")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]  # finite: exponent is int
        raise ValueError("must have at most two decimal places")
    return value


# At most 15 digits in all (DESIGN §7): far above any real debt, far below what Numeric columns,
# JSON consumers and float-minded tools downstream can carry exactly.
MAX_MONEY_DIGITS = 15
Money = Annotated[
    Decimal,
    Field(max_digits=MAX_MONEY_DIGITS, decimal_places=2),
    AfterValidator(_two_places),
]
PositiveMoney = Annotated[Money, AfterValidator(_positive)]
NonNegativeMoney = Annotated[Money, AfterValidator(_non_negative)]


# ISO 4217 minor units where they are not two. Three-place currencies still take at most two
# (the case keeps cents); zero-place ones take none.
_ZERO_PLACES = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
CURRENCY_PLACES: dict[str, int] = dict.fromkeys(_ZERO_PLACES.split(), 0)


def currency_places(currency: str) -> int:
    return CURRENCY_PLACES.get(currency, 2)


def written_places(value: Decimal) -> int:
    """Decimal places as written: "500.00" has two, 500 none."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def places_problem(value: Decimal, currency: str) -> str | None:
    allowed = currency_places(currency)
    if written_places(value) <= allowed:
        return None
    if allowed == 0:
        return f"{currency} amounts have no decimal places; send a whole number"
    return f"{currency} amounts have at most {allowed} decimal places"


# Dates and times a person could mean (DESIGN §7): a typo'd year 20266 or 0026 is refused, not
# carried into timers, tables and exports.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)


def _date_in_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}")
    return value


PlausibleDate = Annotated[date, AfterValidator(_date_in_range)]
PlausibleDatetime = Annotated[datetime, AfterValidator(_date_in_range)]


def validate_e164(phone: str) -> str:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number in E.164 form (+country number): {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != phone:
        raise ValueError(f"must be in E.164 form, e.g. {formatted}")
    return phone


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


SUPPORTED_LOCALES = ("zh-CN", "en")


class Consent(BaseModel):
    model_config = ConfigDict(frozen=True)

    sms: bool = True
    call: bool = True


def _e164_or_empty(phone: str) -> str:
    return phone if phone == "" else validate_e164(phone)


class Borrower(BaseModel):
    """The borrower as a case sees it. Since the vault (DESIGN §10) a case's input carries no
    name, phone or address (empty; ``phone_ref`` is the phone's keyed fingerprint): those live
    sealed in SQL. The defaults let histories recorded before it, which carry them, decode."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    phone: Annotated[str, AfterValidator(_e164_or_empty)] = ""
    timezone: Annotated[str, AfterValidator(validate_timezone)]
    locale: str = "zh-CN"
    region: str = Field(min_length=1, max_length=64)
    address: str = Field(default="", max_length=500)
    consent: Consent = Consent()
    # Where the loan system sends it, the borrower's page accepts it as proof of identity.
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    phone_ref: str = Field(default="", max_length=64)  # HMAC of the phone: compared, never sent

    @property
    def carries_pii(self) -> bool:
        """Recorded before the vault: the input itself holds the name and phone."""
        return bool(self.phone)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value.lower().startswith("zh"):
            return "zh-CN"
        if value.lower().startswith("en"):
            return "en"
        raise ValueError(f"unsupported locale {value!r}; use one of {', '.join(SUPPORTED_LOCALES)}")


class Loan(BaseModel):
    model_config = ConfigDict(frozen=True)

    loan_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount_overdue: PositiveMoney
    outstanding_balance: NonNegativeMoney
    due_date: PlausibleDate

    @field_validator("amount_overdue", "outstanding_balance")
    @classmethod
    def _places_of_the_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")  # absent when the currency itself was refused
        problem = places_problem(value, currency) if isinstance(currency, str) else None
        if problem:
            raise ValueError(problem)
        return value


class StrategyRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    version: int


# Inbound words that revoke or restore SMS consent. Twilio's standard keywords plus the Chinese
# carriers' conventions (退订, TD). Matched on the whole trimmed message, case-insensitively.
OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td"})
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})


def classify_inbound(text: str) -> str:
    """'opt_out', 'opt_in' or 'message' for an inbound SMS body."""
    word = text.strip().strip("!.。！").lower()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return "message"
