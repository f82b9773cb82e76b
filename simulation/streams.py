"""Per-loan random streams: one ``random.Random`` per (seed, loan, decision).

The pure engine and the Temporal engine visit loans in different orders (a heap of events
against a day-by-day sweep of workflows), so a shared generator would hand a loan different
numbers on each. A stream keyed by what is being decided gives a loan the same numbers whatever
happened elsewhere, and adding a decision later does not shift the draws of the others.

The key is hashed with SHA-256, not ``hash()``: string hashing is salted per process
(PYTHONHASHSEED), and a shard in another process must draw what a single process would.
"""

from __future__ import annotations

import hashlib
import random

PREFIX = "collectflow-sim/v2"


def stream_seed(seed: int, loan_id: str, decision: str) -> int:
    """A 64-bit integer seed, stable across processes, machines and Python versions."""
    key = f"{PREFIX}\x1f{seed}\x1f{loan_id}\x1f{decision}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def stream(seed: int, loan_id: str, decision: str) -> random.Random:
    return random.Random(stream_seed(seed, loan_id, decision))
