"""Fidelity: a seed's loans end alike on the pure engine and on the real workflow.

The pure engine drives ``workflows/core``; the Temporal engine drives ``workflows/case.py``.
This sample (21 loans, at least 2 of each behaviour, 100 days) is the suite's; the note's wider
runs (``python -m simulation.fidelity``: 70 loans, 120 days, seed 1; 70 loans, 180 days, seed 2)
match on every loan since the Temporal engine's borrower sees only the plan in force.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from simulation.behaviour import Behaviour
from simulation.driver import run_simulation
from simulation.engine import run_pure
from simulation.fidelity import compare, loan_end
from simulation.model import SimConfig

EVEN = {b: 1 / len(Behaviour) for b in Behaviour}


async def test_both_engines_end_each_loan_alike() -> None:
    """Same seed: end stage, amount recovered and contacts by channel equal per loan on both
    engines, the local day of resolution within one, open loans open on both."""
    config = SimConfig(loans=21, days=100, seed=2, mix=EVEN)
    temporal = await run_simulation(config)
    behaviours = Counter(r.profile.behaviour for r in temporal.records)
    assert len(behaviours) == len(Behaviour) and min(behaviours.values()) >= 2, behaviours
    pure = run_pure(replace(config, start=temporal.start, timezone=temporal.timezone))
    assert compare(pure, temporal) == {}, [loan_end(r, pure) for r in pure.records]
    assert compare(temporal, pure) == {}


async def test_a_borrower_past_a_broken_plan_sees_the_settlement_on_both_engines() -> None:
    """Seed 1's loan 1 breaks two plans and is offered a settlement on day 43, which it pays on
    day 53. The Temporal engine's borrower read the broken plan the read model keeps on show,
    looked for installments to pay, never saw the settlement, and the loan went to legal."""
    config = SimConfig(loans=2, days=70, seed=1)
    temporal = await run_simulation(config)
    pure = run_pure(replace(config, start=temporal.start, timezone=temporal.timezone))
    [loan] = [r for r in pure.records if r.loan_id.endswith("00001")]
    assert (loan.profile.behaviour, loan.stage.value) == (Behaviour.BREAKS_PLAN, "settled")
    assert compare(pure, temporal) == {}, [loan_end(r, temporal) for r in temporal.records]
