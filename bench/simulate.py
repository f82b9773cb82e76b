"""``collectflow simulate`` on the pure engine: 1,000 loans x 180 days (``--smoke``: 100 x 60).

The figure issue 12 asks for (<= 60 s; the Temporal engine took 2,442 s for the same run). The
engine is synchronous and CPU-bound: the time is the core's, the behaviour models' and the
heap's, with no server and no database.
"""

from __future__ import annotations

import time

from bench import Figures, run_main
from simulation.engine import Engine
from simulation.model import SimConfig
from simulation.portfolio import load_strategies
from simulation.report import build_report


async def measure(smoke: bool) -> Figures:
    config = SimConfig(loans=100 if smoke else 1000, days=60 if smoke else 180, seed=1)
    started = time.perf_counter()
    engine = Engine(config, load_strategies(config))
    run = engine.run()
    report = build_report(run)
    seconds = time.perf_counter() - started
    return {
        "engine": "pure",
        "loans": config.loans,
        "days": config.days,
        "seconds": round(seconds, 2),
        "loan_days_per_second": round(config.loans * config.days / seconds),
        "heap_events": engine.events,
        "recovery_rate": report.strategies[0].recovery_rate,
    }


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
