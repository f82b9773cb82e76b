"""The provider's pace for the sends of one worker process.

A contact runs as a local activity on the case worker (DESIGN §3, lean history), so Temporal's
task-queue rate limit no longer spaces the sends out; this does, per process: each send takes
the next free slot, ``1 / rate`` seconds after the one before. A send whose slot is further away
than ``longest_wait`` does not hold its activity slot that long: it gives up with a retryable
error whose retry delay is the wait, and the retry takes a slot then. Several worker processes
each keep their own pace, so the rate to configure is the provider's rate divided by them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.exceptions import ApplicationError

ERROR_PACED = "ProviderPaced"


class Pace:
    def __init__(
        self,
        rate_per_second: float | None,
        *,
        longest_wait: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second else 0.0
        self._longest_wait = longest_wait
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    async def turn(self) -> None:
        """Wait for this send's slot; raise (retryable) when it is too far away."""
        if not self._interval:
            return
        now = self._clock()
        slot = max(now, self._next)
        wait = slot - now
        if wait > self._longest_wait:
            raise ApplicationError(
                f"{wait:.0f} s of sends are queued on this worker at the provider's pace; "
                "this one is retried then",
                type=ERROR_PACED,
                next_retry_delay=timedelta(seconds=wait),
            )
        self._next = slot + self._interval
        if wait > 0:
            await self._sleep(wait)
