"""Fidelity: does a seed's loan end the same on both engines (issue 12, item 2)?

Per loan: the end stage, the amount recovered and the contacts by channel must be equal; the
day of resolution, counted in the borrower's zone from the due date, may differ by one (the
engines do not order same-day events alike); a loan still open at the horizon must be open on
both. ``python -m simulation.fidelity --loans 70 --days 120`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from decimal import Decimal

from simulation.model import CaseRecord, SimConfig, SimRun
from workflows.core import localtime

DAY_TOLERANCE = 1


@dataclass(frozen=True)
class LoanEnd:
    loan_id: str
    behaviour: str
    stage: str
    recovered: str
    contacts: dict[str, int]
    resolution_day: int | None  # local days from the due date; None: open at the horizon


def loan_end(rec: CaseRecord, run: SimRun) -> LoanEnd:
    day = None
    if rec.terminal_at is not None:
        day = (localtime.local_date(rec.terminal_at, run.timezone) - rec.due_date).days
    return LoanEnd(
        loan_id=rec.loan_id,
        behaviour=rec.profile.behaviour.value,
        stage=rec.stage.value,
        recovered=f"{rec.recovered.quantize(Decimal('0.01'))}",
        contacts={ch: rec.contacts[ch] for ch in ("sms", "call")},
        resolution_day=day,
    )


def differences(a: LoanEnd, b: LoanEnd) -> list[str]:
    out = [
        f"{name}: {getattr(a, name)} != {getattr(b, name)}"
        for name in ("stage", "recovered", "contacts")
        if getattr(a, name) != getattr(b, name)
    ]
    if (a.resolution_day is None) != (b.resolution_day is None):
        out.append(f"resolution_day: {a.resolution_day} != {b.resolution_day}")
    elif (
        a.resolution_day is not None
        and b.resolution_day is not None
        and abs(a.resolution_day - b.resolution_day) > DAY_TOLERANCE
    ):
        out.append(f"resolution_day: {a.resolution_day} vs {b.resolution_day}")
    return out


def compare(pure: SimRun, temporal: SimRun) -> dict[str, list[str]]:
    """Loan id -> what differs (empty when every loan ends alike)."""
    theirs = {r.loan_id: loan_end(r, temporal) for r in temporal.records}
    out: dict[str, list[str]] = {}
    for rec in pure.records:
        mine = loan_end(rec, pure)
        other = theirs.get(rec.loan_id)
        found = ["missing on the Temporal engine"] if other is None else differences(mine, other)
        if found:
            out[rec.loan_id] = found
    return out


def run_both(config: SimConfig, shards: int = 1) -> tuple[SimRun, SimRun]:
    """The Temporal engine first; the pure engine then runs on its clock and zone."""
    from simulation.engine import run_pure
    from simulation.shards import run_sharded

    temporal = run_sharded(config, shards)
    pure = run_pure(replace(config, start=temporal.start, timezone=temporal.timezone))
    return pure, temporal


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=70)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args(argv)
    config = SimConfig(loans=args.loans, days=args.days, seed=args.seed)
    pure, temporal = run_both(config, args.shards)
    diffs = compare(pure, temporal)
    ends = [asdict(loan_end(r, pure)) for r in pure.records]
    result = {
        "loans": args.loans,
        "days": args.days,
        "seed": args.seed,
        "matching": args.loans - len(diffs),
        "differing": diffs,
        "behaviours": sorted({e["behaviour"] for e in ends}),
    }
    print(json.dumps(result, sort_keys=True))
    sys.stdout.flush()
    os._exit(0)  # the Temporal environment may abort at interpreter exit (FIELD-NOTES)


if __name__ == "__main__":
    main()
