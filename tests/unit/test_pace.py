"""The provider's pace per worker process (activities/pace.py), on a clock the test moves."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.pace import ERROR_PACED, Pace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


async def test_sends_take_slots_one_interval_apart() -> None:
    clock = Clock()
    pace = Pace(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        await pace.turn()
    assert clock.slept == [0.5, 1.0, 1.5]  # the first goes at once, then every half second


async def test_a_slot_too_far_away_is_a_retryable_error_with_the_wait_as_delay() -> None:
    clock = Clock()
    pace = Pace(1.0, longest_wait=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await pace.turn()  # slots at +0, +1, +2
    with pytest.raises(ApplicationError) as paced:
        await pace.turn()  # +3 is further than two seconds away
    assert paced.value.type == ERROR_PACED and not paced.value.non_retryable
    assert paced.value.next_retry_delay is not None
    assert paced.value.next_retry_delay.total_seconds() == pytest.approx(3.0)
    clock.now += 10  # later, the queue has drained: at once again
    clock.slept.clear()
    await pace.turn()
    assert clock.slept == []


async def test_no_rate_means_no_pace() -> None:
    clock = Clock()
    pace = Pace(None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        await pace.turn()
    assert clock.slept == []
