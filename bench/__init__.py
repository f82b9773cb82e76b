"""Benchmarks: each script prints one JSON object of figures; ``--smoke`` runs tiny sizes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

Figures = dict[str, Any]


def parse(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    return parser.parse_args()


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status (VmRSS, kB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def quiet_logs() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))


def run_main(work: Callable[[bool], Coroutine[Any, Any, Figures]], description: str) -> None:
    """Parse ``--smoke``, run, print one JSON object, leave with ``os._exit``."""
    args = parse(description)
    run_figures(lambda: work(bool(args.smoke)))


def run_figures(work: Callable[[], Coroutine[Any, Any, Figures]]) -> None:
    """Run, print one JSON object, leave with ``os._exit`` (temporalio/sdk-python#300)."""
    status = 0
    # Child processes (the Temporal dev server prints a banner) inherit fd 1: point it at stderr
    # while working, so stdout carries nothing but the one JSON object.
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        quiet_logs()
        figures = asyncio.run(work())
        sys.stdout.flush()
        os.write(stdout, (json.dumps(figures, sort_keys=True) + "\n").encode())
    except Exception:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
