"""``make bench``: run every benchmark at full size and write bench/results.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from models.settings import PROJECT_ROOT

SCRIPTS = ("simulate", "throughput", "lifecycle", "replay", "scale")
RESULTS = Path(__file__).with_name("results.json")


def main() -> int:
    results: dict[str, object] = {}
    status = 0
    for name in SCRIPTS:  # one at a time: they would compete for the same cores
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", *sys.argv[1:]],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = round(time.monotonic() - started, 1)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            results[name] = {"error": f"exit {done.returncode}", "wall_seconds": seconds}
            status = 1
            continue
        figures = json.loads(done.stdout)
        figures["wall_seconds"] = seconds
        results[name] = figures
        print(f"{name}: {json.dumps(figures, sort_keys=True)}", file=sys.stderr)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")
    print(json.dumps(results, sort_keys=True))
    return status


if __name__ == "__main__":
    # No Temporal client in this process: each benchmark leaves through os._exit itself.
    sys.exit(main())
