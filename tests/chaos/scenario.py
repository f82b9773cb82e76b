"""The seeded borrower behaviour model: who pays, who texts STOP, who disputes, who is paused.

Every case gets a script from ``random.Random(seed)``: a kind, a zone, an amount and timed
steps (in strategy days after the case opened). The script fixes the case's end state, so the
chaos run compares against this deterministic expectation rather than a second, undisturbed
run: contact counts depend on the faults by design (an unknown send is not resent), the end
state of a case must not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from tests.factories import open_window_zone

Kind = Literal[
    "payer", "closed_zone_payer", "opt_out", "dispute", "hardship", "silent", "new_phone", "reopen"
]
StepKind = Literal[
    "note", "pay", "stop", "dispute_open", "dispute_resolve", "hardship", "close", "new_phone",
    "reopen",
]  # fmt: skip
KINDS: tuple[tuple[Kind, float], ...] = (
    ("payer", 0.25),
    ("closed_zone_payer", 0.10),
    ("opt_out", 0.15),
    ("dispute", 0.12),
    ("hardship", 0.12),
    ("silent", 0.10),
    # A repeat overdue event with a new phone: later contacts go to the new number only.
    ("new_phone", 0.08),
    # Paid in full, then a new delinquency (later due date) opens the loan's next case.
    ("reopen", 0.08),
)
HARDSHIP_DAYS = 3
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Step:
    day: float  # strategy days after the case opened
    kind: StepKind
    amount: Decimal | None = None
    ref: str | None = None


@dataclass
class Script:
    index: int
    loan_id: str
    kind: Kind
    zone: str
    phone: str
    amount: Decimal
    steps: list[Step]
    # Filled in by the driver: what the API acknowledged, and when (time.time()).
    accepted_refs: list[str] = field(default_factory=list)
    notes_accepted: int = 0
    opted_out_at: float | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # new_phone: the number in the repeat event, and when the API acknowledged it.
    new_phone: str | None = None
    phone_changed_at: float | None = None
    # reopen: whether the later event opened a new case (202 with started: true).
    reopened: bool = False
    reopened_at: float | None = None

    @property
    def phones(self) -> list[str]:
        return [self.phone] + ([self.new_phone] if self.new_phone else [])

    def last_generation_refs(self) -> list[str]:
        """The payments the final case holds: a reopened loan's case starts with none."""
        pays = [s for s in self.steps if s.kind == "pay" and s.ref]
        if self.kind == "reopen":
            reopen_day = next(s.day for s in self.steps if s.kind == "reopen")
            pays = [s for s in pays if s.day > reopen_day]
        return sorted(str(s.ref) for s in pays)

    @property
    def case_id(self) -> str:
        return f"case-{self.loan_id}"

    def expected(self) -> dict[str, Any]:
        """The end state this script must produce whatever the faults."""
        refs = self.last_generation_refs()
        paid = sum(
            (s.amount for s in self.steps if s.kind == "pay" and s.amount and s.ref in refs),
            Decimal(0),
        )
        closed = self.kind == "silent"
        notes = sum(1 for s in self.steps if s.kind == "note")
        return {
            "stage": "closed" if closed else "resolved",
            "balance": str((self.amount - paid).quantize(CENT)),
            "paid_total": str(paid.quantize(CENT)),
            "payments": refs,
            "sms_opted_out": self.kind == "opt_out",
            "notes": 0 if self.kind == "reopen" else notes,
        }

    def overdue_event(
        self, now: datetime, *, phone: str | None = None, later_by_days: int = 0
    ) -> dict[str, Any]:
        """The loan system's event; ``phone`` changes the number, ``later_by_days`` moves the
        due date on (a new delinquency of a loan whose case ended)."""
        due = now.date() + timedelta(days=later_by_days)
        return {
            "loan_id": self.loan_id,
            "currency": "CNY",
            "amount_overdue": str(self.amount),
            "outstanding_balance": str(self.amount * 3),
            "due_date": due.isoformat(),
            "strategy": "demo",
            "borrower": {
                "id": f"B-{self.loan_id}",
                "name": "王芳",
                "phone": phone or self.phone,
                "timezone": self.zone,
                "locale": "zh-CN",
                "region": "hz-west",
                "address": "杭州市西湖区文三路 1 号",
                "consent": {"sms": True, "call": True},
            },
        }


def closed_zone(now: datetime) -> str:
    """A fixed-offset zone where it is 03:00 now: contact is deferred for hours."""
    offset = (3 - now.hour) % 24
    if offset > 12:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def make_scripts(
    count: int,
    seed: int,
    run_tag: str,
    now: datetime | None = None,
    only: frozenset[str] | None = None,
) -> list[Script]:
    """``only``: the kinds to draw from (their weights kept); None: every kind."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    open_zone, shut_zone = open_window_zone(now), closed_zone(now)
    mix = [(k, w) for k, w in KINDS if only is None or k in only]
    kinds = [k for k, _ in mix]
    weights = [w for _, w in mix]
    scripts = []
    for i in range(count):
        kind: Kind = rng.choices(kinds, weights)[0]
        loan_id = f"CH-{run_tag}-{i:04d}"
        amount = Decimal(rng.randrange(50_000, 500_000)) / 100
        part = (amount * Decimal(rng.uniform(0.2, 0.6))).quantize(CENT)
        ref = f"{loan_id}-P"
        steps: list[Step] = [Step(0.5, "note")]
        if kind == "payer":
            steps += [Step(1.5, "pay", part, ref + "1"), Step(4, "pay", amount - part, ref + "2")]
        elif kind == "closed_zone_payer":
            steps += [Step(2, "pay", amount, ref + "1")]
        elif kind == "opt_out":
            steps += [Step(2, "stop"), Step(6, "pay", amount, ref + "1")]
        elif kind == "dispute":
            steps += [Step(2, "dispute_open"), Step(8, "dispute_resolve")]
            steps += [Step(9, "pay", amount, ref + "1")]
        elif kind == "hardship":
            steps += [Step(2, "hardship"), Step(9, "pay", amount, ref + "1")]
        elif kind == "new_phone":
            steps += [Step(1, "new_phone"), Step(5, "pay", amount, ref + "1")]
        elif kind == "reopen":
            steps += [Step(1.5, "pay", amount, ref + "1"), Step(3, "reopen")]
            steps += [Step(5, "pay", amount, ref + "2")]
        else:
            steps += [Step(8, "close")]
        number = (seed % 100) * 100_000 + i
        scripts.append(
            Script(
                index=i,
                loan_id=loan_id,
                kind=kind,
                zone=shut_zone if kind == "closed_zone_payer" else open_zone,
                phone=f"+86139{number:08d}",
                amount=amount,
                steps=steps,
                new_phone=f"+86137{number:08d}" if kind == "new_phone" else None,
            )
        )
    return scripts
