"""Per-API-key rate limits: an in-process token bucket per key.

Each key may make ``rate`` requests a second on average and ``burst`` at once; past that a
request is answered 429 with ``Retry-After`` (whole seconds until a token is back). The buckets
live in the API process, so N API processes behind a balancer allow N times the rate: size
``COLLECTFLOW_API_RATE_PER_SECOND`` for one process. The clock is injectable for tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TRACKED_KEYS = 10_000  # keys are configured, so this bounds memory, not who is served


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    rate: float  # tokens added per second
    burst: int  # bucket size
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key: str) -> float:
        """0 when the request may go ahead (a token is taken), else seconds until one is back."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_KEYS:
                self._buckets.clear()  # start every bucket full again rather than grow
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """Retry-After is whole seconds; never 0, which would invite an immediate retry."""
    return max(1, math.ceil(wait))
