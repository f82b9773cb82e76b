"""Histories replayed per second for auditors (``audit.replay.replay_histories``).

Replays the committed histories of tests/histories (issue 2's scenarios: a full lifecycle and
a broken-to-legal case) over and over, as an auditor's ``collectflow audit replay`` would.
"""

from __future__ import annotations

import time
from pathlib import Path

from audit.replay import history_from_file, replay_histories
from bench import Figures, run_main
from models.settings import PROJECT_ROOT

HISTORIES = PROJECT_ROOT / "tests" / "histories"


async def measure(smoke: bool) -> Figures:
    files = sorted(Path(HISTORIES).glob("*.json"))  # noqa: ASYNC240  # two small files, once
    base = [history_from_file(path) for path in files]
    total = 10 if smoke else 200
    histories = [base[i % len(base)] for i in range(total)]
    events = sum(len(h.events) for h in histories)
    await replay_histories(base)  # warm-up: imports and the sandbox's first module load
    started = time.perf_counter()
    summary = await replay_histories(histories)
    elapsed = time.perf_counter() - started
    if not summary.ok:
        raise RuntimeError(f"replay failed: {summary.failed[0].describe()}")
    return {
        "histories": summary.replayed,
        "distinct_histories": len(base),
        "events": events,
        "seconds": round(elapsed, 3),
        "histories_per_second": round(summary.replayed / elapsed, 1),
        "events_per_second": round(events / elapsed, 1),
    }


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
