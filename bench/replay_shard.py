"""One replay shard of ``bench/replay.py``: replay the given history files once each.

Prints one JSON object: how many replayed and failed, their events, and the seconds the replay
itself took, wall and CPU (after a warm-up on the first file, so process start and the
sandbox's first module load are not counted). Leaves with ``os._exit`` (temporalio/sdk-python#300).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from audit.replay import history_from_file, replay_histories
from bench import quiet_logs


async def replay(paths: list[Path]) -> dict[str, object]:
    histories = [history_from_file(path) for path in paths]
    await replay_histories(histories[:1])  # warm-up, not counted
    started, cpu = time.perf_counter(), time.process_time()
    summary = await replay_histories(histories)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "replayed": summary.replayed,
        "failed": len(summary.failed),
        "events": sum(len(h.events) for h in histories),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "first_failure": summary.failed[0].describe() if summary.failed else None,
    }


def main() -> None:
    quiet_logs()
    status = 0
    try:
        result = asyncio.run(replay([Path(arg) for arg in sys.argv[1:]]))
        sys.stdout.write(json.dumps(result) + "\n")
    except Exception as exc:  # the parent reports the exit status
        sys.stderr.write(f"replay shard failed: {exc!r}\n")
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
