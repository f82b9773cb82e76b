"""A bounded memory of recently handled webhook keys, so a replayed callback is a no-op.

Per process and best effort: the workflow is idempotent on provider sids anyway; this only
spares it the duplicate signals Twilio's retries and replays would send.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class RecentKeys:
    def __init__(self, capacity: int = 10_000, ttl_seconds: float = 3600.0) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, key: str) -> bool:
        """True when ``key`` was remembered within the TTL."""
        stamp = self._seen.get(key)
        if stamp is None:
            return False
        if time.monotonic() - stamp > self._ttl:
            del self._seen[key]
            return False
        return True

    def remember(self, key: str) -> None:
        self._seen[key] = time.monotonic()
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
