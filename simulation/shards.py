"""The Temporal engine over N processes: each shard runs every N-th loan on its own
time-skipping server, SQLite file and sandbox (``simulation.driver``), and the parent merges
the records. One Java server freezes time while any task is outstanding, so two servers skip
their days independently; the per-loan random streams make a loan's draws the same in any
shard.

Children leave with ``os._exit`` once their result is queued: a process that used a Temporal
environment may abort at interpreter exit (FIELD-NOTES, sdk-python#300).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue as queues
import sys
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.queues import Queue
from typing import Any

from simulation.model import SimConfig, SimRun

Message = tuple[str, int, Any]  # ("day" | "done" | "error", shard, payload)


class ShardFailed(RuntimeError):
    """A shard process failed or died; the message says which and why."""


def _shard_main(config: SimConfig, out: Queue[Message]) -> None:
    from simulation.driver import run_simulation

    status = 0
    try:
        run = asyncio.run(
            run_simulation(config, on_day=lambda day: out.put(("day", config.shard, day)))
        )
        out.put(("done", config.shard, run))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        out.put(("error", config.shard, f"{type(exc).__name__}: {exc}"))
        status = 1
    finally:
        out.close()
        out.join_thread()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def run_sharded(
    config: SimConfig, shards: int, *, on_day: Callable[[int], None] | None = None
) -> SimRun:
    if shards == 1:
        from simulation.driver import run_simulation

        return asyncio.run(run_simulation(config, on_day=on_day))
    ctx = multiprocessing.get_context("spawn")  # no forked Temporal runtime threads
    out: Queue[Message] = ctx.Queue()
    procs = [
        ctx.Process(target=_shard_main, args=(replace(config, shard=k, shards=shards), out))
        for k in range(shards)
    ]
    for proc in procs:
        proc.start()
    try:
        runs = _collect(out, procs, on_day)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()  # only our own children, by handle
    return merge(config, [runs[k] for k in range(shards)])


def _collect(
    out: Queue[Message], procs: list[Any], on_day: Callable[[int], None] | None
) -> dict[int, SimRun]:
    runs: dict[int, SimRun] = {}
    days = [0] * len(procs)
    while len(runs) < len(procs):
        try:
            kind, shard, payload = out.get(timeout=5.0)
        except queues.Empty:
            dead = [k for k, p in enumerate(procs) if not p.is_alive() and k not in runs]
            if dead:
                raise ShardFailed(f"shard {dead[0]} ended without a result") from None
            continue
        if kind == "error":
            raise ShardFailed(f"shard {shard}: {payload}")
        if kind == "day":
            days[shard] = payload
            if on_day is not None:
                on_day(min(days))
        else:
            runs[shard] = payload
    return runs


def merge(config: SimConfig, runs: list[SimRun]) -> SimRun:
    """One run from the shards' runs, loans in portfolio order."""
    records = sorted((r for run in runs for r in run.records), key=lambda r: r.profile.index)
    first = runs[0]
    return SimRun(
        config=config,
        records=records,
        start=first.start,
        timezone=first.timezone,
        engine=first.engine,
    )
