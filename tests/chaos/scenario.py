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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from tests.factories import open_window_zone

Kind = Literal["payer", "closed_zone_payer", "opt_out", "dispute", "hardship", "silent"]
StepKind = Literal["note", "pay", "stop", "dispute_open", "dispute_resolve", "hardship", "close"]
KINDS: tuple[tuple[Kind, float], ...] = (
    ("payer", 0.35),
    ("closed_zone_payer", 0.10),
    ("opt_out", 0.15),
    ("dispute", 0.15),
    ("hardship", 0.15),
    ("silent", 0.10),
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

    @property
    def case_id(self) -> str:
        return f"case-{self.loan_id}"

    def expected(self) -> dict[str, Any]:
        """The end state this script must produce whatever the faults."""
        paid = sum((s.amount for s in self.steps if s.kind == "pay" and s.amount), Decimal(0))
        closed = self.kind == "silent"
        return {
            "stage": "closed" if closed else "resolved",
            "balance": str((self.amount - paid).quantize(CENT)),
            "paid_total": str(paid.quantize(CENT)),
            "payments": sorted(s.ref for s in self.steps if s.kind == "pay" and s.ref),
            "sms_opted_out": self.kind == "opt_out",
            "notes": sum(1 for s in self.steps if s.kind == "note"),
        }

    def overdue_event(self, now: datetime) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "currency": "CNY",
            "amount_overdue": str(self.amount),
            "outstanding_balance": str(self.amount * 3),
            "due_date": now.date().isoformat(),
            "strategy": "demo",
            "borrower": {
                "id": f"B-{self.loan_id}",
                "name": "王芳",
                "phone": self.phone,
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


def make_scripts(count: int, seed: int, run_tag: str, now: datetime | None = None) -> list[Script]:
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    open_zone, shut_zone = open_window_zone(now), closed_zone(now)
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
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
        else:
            steps += [Step(8, "close")]
        scripts.append(
            Script(
                index=i,
                loan_id=loan_id,
                kind=kind,
                zone=shut_zone if kind == "closed_zone_payer" else open_zone,
                phone=f"+86139{(seed % 100) * 100_000 + i:08d}",
                amount=amount,
                steps=steps,
            )
        )
    return scripts
