"""Treatments per segment (DESIGN §4, §9): which path and bounds a scored case gets.

Data in the strategy; ``workflows.core.treatments.choose`` reads it. A treatment's fields
override the strategy's own values only where given, so a strategy without treatments (or a
segment without one) behaves as before.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# The treatment for any case in hardship (an unaffordable balance, or illness as the reason for
# falling behind): it routes the offer, and it is chosen before the score's segment.
HARDSHIP = "hardship"
# The SMS a hardship_first treatment sends with its offer (a grace or an affordable plan): a
# strategy with such a treatment must define it, and it is linted like every SMS.
OFFER_TEMPLATE = "hardship_offer"


class Path(StrEnum):
    STANDARD = "standard"  # the strategy as written
    LIGHT_TOUCH = "light_touch"  # likely to self-cure: fewer reminders, no early visit
    HARDSHIP_FIRST = "hardship_first"  # cannot pay now: offer a grace or an affordable plan early
    VISIT_EARLY = "visit_early"  # will not engage: a visit sooner


class Treatment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: str = Field(pattern=r"^[a-z0-9_]+$")
    path: Path = Path.STANDARD
    wait_days: int | None = Field(default=None, ge=0)
    max_reminders: int | None = Field(default=None, ge=0)
    min_installments: int | None = Field(default=None, ge=2)
    max_installments: int | None = Field(default=None, ge=2)
    affordable_share: Decimal | None = Field(default=None, gt=0, le=1)
    max_grace_days: int | None = Field(default=None, ge=1)
    # Reminder calls are skipped (logged as not sent, with the reason): SMS only.
    sms_only: bool = False
