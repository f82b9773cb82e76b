"""Histories replayed per second for auditors, over a corpus of distinct engine-made histories.

The corpus is made fresh by the Temporal engine each run: a simulated portfolio (every
behaviour, the real workflow and activities on the time-skipping server) whose every run of
every case is written to disk. Replaying the same two histories again and again would measure a
warm cache, not an audit; each history here is replayed exactly once. The corpus is split over
one replaying process per core (``bench.replay_shard``), as an auditor's batch replay would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench import Figures, run_main
from bench.lifecycle import case_runs
from simulation.driver import run_simulation
from simulation.model import CaseRecord, SimConfig


async def make_corpus(directory: Path, loans: int, days: int) -> int:
    """Simulate ``loans`` cases and write every run's history; returns how many were written."""
    written = 0

    async def save(env: WorkflowEnvironment, records: list[CaseRecord]) -> None:
        nonlocal written
        for rec in records:  # one at a time (FIELD-NOTES: time-skipping hazards)
            for index, history in enumerate(await case_runs(env, rec)):
                path = directory / f"{rec.case_id}-{index:03d}.json"
                path.write_text(history.to_json(), "utf-8")  # setup, untimed
                written += 1

    await run_simulation(SimConfig(loans=loans, days=days, seed=7), after=save)
    return written


async def replay_sharded(files: list[Path], shards: int) -> list[dict[str, object]]:
    """One ``bench.replay_shard`` process per shard, all at once; their JSON summaries."""
    groups = [files[i::shards] for i in range(shards)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.replay_shard",
            *map(str, group),
            stdout=asyncio.subprocess.PIPE,
        )
        for group in groups
        if group
    ]
    results = []
    for process in processes:
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a replay shard exited {process.returncode}")
        results.append(json.loads(out))
    return results


async def measure(smoke: bool) -> Figures:
    loans, days = (14, 30) if smoke else (210, 90)
    shards = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="collectflow-replay-") as tmp:
        corpus = Path(tmp)
        await make_corpus(corpus, loans, days)
        files = sorted(corpus.glob("*.json"))  # noqa: ASYNC240  # setup, untimed
        distinct = len({path.read_bytes() for path in files})
        started = time.perf_counter()
        results = await replay_sharded(files, shards)
        wall = time.perf_counter() - started
    # The shards replay side by side: the slowest one is the span of the replay itself.
    elapsed = max(float(str(r["seconds"])) for r in results)
    replayed = sum(int(str(r["replayed"])) for r in results)
    failed = sum(int(str(r["failed"])) for r in results)
    events = sum(int(str(r["events"])) for r in results)
    cpu = sum(float(str(r["cpu_seconds"])) for r in results)
    if failed:
        first = next(r["first_failure"] for r in results if r["first_failure"])
        raise RuntimeError(f"{failed} of {replayed} histories failed to replay; first: {first}")
    return {
        "histories": replayed,
        "distinct_histories": distinct,
        "cases": loans,
        "days": days,
        "shards": shards,
        "events": events,
        "seconds": round(elapsed, 3),
        "wall_seconds_with_process_start": round(wall, 3),
        "histories_per_second": round(replayed / elapsed, 1),
        "events_per_second": round(events / elapsed, 1),
        # CPU time is what the code costs; wall time on a shared machine is also the neighbours'.
        "cpu_ms_per_history": round(1000 * cpu / replayed, 1),
        "histories_per_cpu_second": round(replayed / cpu, 1),
    }


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
