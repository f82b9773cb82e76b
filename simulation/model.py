"""What every engine shares: the run's configuration, one record per loan, and the run.

The engines fill the same :class:`CaseRecord` (the pure engine from the core's effects, the
Temporal engine from the read-model projections), so :mod:`simulation.report` and the fidelity
comparison read one shape whatever ran the cases.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from models.common import Stage, case_id_for
from models.settings import PROJECT_ROOT
from models.strategy import Strategy
from simulation.behaviour import DEFAULT_MIX, Behaviour, Profile

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class SimConfig:
    loans: int = 1000
    days: int = 180
    seed: int = 1
    strategy: str = "default"
    challenger: str | None = None
    share: float = 0.2
    mix: dict[Behaviour, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    strategy_dir: Path = PROJECT_ROOT / "strategies"
    regions: int = 4
    # The hidden-traits portfolio (``--mix traits``): behaviours and means from each
    # borrower's ability and willingness (simulation.traits); ``mix`` is then unused.
    traits: bool = False
    # This process runs loans ``shard, shard + shards, ...`` of the portfolio (Temporal shards).
    shard: int = 0
    shards: int = 1
    # The pure engine's clock: 11:00 local on the due date in this zone. The Temporal engine
    # takes both from its server's clock; a fidelity run hands the pure engine the same ones.
    start: datetime | None = None
    timezone: str | None = None

    def indices(self) -> range:
        return range(self.shard, self.loans, self.shards)


@dataclass
class CaseRecord:
    """One loan as the engine knows it: its profile, what it saw and what it did."""

    profile: Profile
    loan_id: str
    strategy: Strategy
    due_date: date
    # The Temporal engine's latest read-model projection (its observations come from it).
    projection: Any = None
    seen: set[int] = field(default_factory=set)
    stage: Stage = Stage.REMINDING
    paid: list[tuple[int, Decimal]] = field(default_factory=list)  # (day, amount) per payment
    visits_recorded: int = 0
    sms_sent: int = 0
    calls_sent: int = 0
    contact_days: list[int] = field(default_factory=list)
    contacts: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    broken: int = 0
    escalations: int = 0
    terminal_day: int | None = None
    terminal_at: datetime | None = None
    done: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    first_run_id: str | None = None
    grace_offered: bool = False  # the case offered or granted a hardship grace (pure engine)

    @property
    def case_id(self) -> str:
        return case_id_for(self.loan_id)

    @property
    def recovered(self) -> Decimal:
        return sum((amount for _, amount in self.paid), start=Decimal(0))


@dataclass
class SimRun:
    """The raw outcome of a run: every case's record, for :mod:`simulation.report`."""

    config: SimConfig
    records: list[CaseRecord]
    start: datetime
    timezone: str = "UTC"
    engine: str = "pure"


def day_of(start: datetime, at: datetime) -> int:
    """Whole simulated days since the run's start (the report's day index)."""
    return int((at - start).total_seconds() // DAY_SECONDS)
