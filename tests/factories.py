"""Builders for loans, borrowers, strategies and case inputs used across the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from models.case import CaseInput
from models.common import Borrower, Consent, Loan
from models.settings import PROJECT_ROOT
from models.strategy import Strategy, load_strategy
from workflows import localtime

STRATEGIES = PROJECT_ROOT / "strategies"


def default_strategy(**changes: Any) -> Strategy:
    strategy = load_strategy("default", STRATEGIES)
    return strategy.model_copy(update=changes) if changes else strategy


def seconds_strategy(day_seconds: int = 2, **changes: Any) -> Strategy:
    """The default cadence with a day of a few seconds, for the real dev server.

    Built from the demo file but not flagged ``demo``: the test hands it to the app itself (an
    override), it is no strategy file a production loan could name, so the API fixtures can
    run with production's guards on."""
    base = load_strategy("demo", STRATEGIES)
    update = {"id": "fast", "day_seconds": day_seconds, "demo": False, **changes}
    return base.model_copy(update=update)


def open_window_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone whose local time is mid-afternoon now, so contact is allowed
    whenever the test runs, and stays allowed for a few hours."""
    now = now or datetime.now(UTC)
    offset = (14 - now.hour) % 24
    if offset > 12:
        offset -= 24
    # Etc/GMT signs are inverted: Etc/GMT-8 is UTC+8.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def borrower(**changes: Any) -> Borrower:
    data: dict[str, Any] = {
        "id": f"B-{uuid.uuid4().hex[:6]}",
        "name": "王芳",
        "phone": "+8613800138000",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
        "region": "hz-west",
        "address": "杭州市西湖区文三路 1 号",
        "consent": Consent(),
    }
    data.update(changes)
    return Borrower(**data)


def loan(amount: str = "1530.50", due: date | None = None, **changes: Any) -> Loan:
    data: dict[str, Any] = {
        "loan_id": f"L-{uuid.uuid4().hex[:8]}",
        "currency": "CNY",
        "amount_overdue": Decimal(amount),
        "outstanding_balance": Decimal("9800.00"),
        "due_date": due or date.today(),
    }
    data.update(changes)
    return Loan(**data)


def case_input(
    *,
    strategy: Strategy | None = None,
    the_loan: Loan | None = None,
    the_borrower: Borrower | None = None,
    messaging_queue: str = "collectflow-messaging",
    search_attributes: bool = False,
    now: datetime | None = None,
) -> CaseInput:
    """A case due today (D+0) in the borrower's zone; pass ``now`` = the server's clock, since
    the time-skipping server's clock runs ahead of the wall clock once a test skips time."""
    b = the_borrower or borrower()
    return CaseInput(
        loan=the_loan or loan(due=localtime.local_date(now or datetime.now(UTC), b.timezone)),
        borrower=b,
        strategy=strategy or default_strategy(),
        messaging_task_queue=messaging_queue,
        search_attributes=search_attributes,
    )


def local_time_of(at: datetime, tz: str) -> time:
    return localtime.to_local(at, tz).time()
