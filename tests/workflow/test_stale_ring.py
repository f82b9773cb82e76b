"""A fired timer run on the previous task's clock is refused, not woken on (chaos seed 20).

A worker answering a query for a case it does not hold replays the history it is sent, new
events included: a history that ends with a fired timer and no new task (as a query task's
does) used to run the case's wake on the clock of the task that set the timer, where nothing
was due, and the re-armed timer went out with the next real task instead of the contact a
replay makes. The committed history of that case (docs/incidents) is replayed cut where the
query task cut it, and whole up to the next task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

import workflows.core.entry as entry
from audit.replay import replay_histories
from models.settings import Settings
from workers.codec import converter_for

INCIDENT = (
    Path(__file__).resolve().parents[2] / "docs/incidents/2026-12-03-chaos-seed20-case-0132.json"
)
SET_AT = "2026-12-03T12:23:43.326616+00:00"  # the clock of the task that set the timer
NEXT_TASK = "2026-12-03T12:23:52.527643+00:00"


def history_up_to(last_event: int) -> WorkflowHistory:
    raw = json.loads(INCIDENT.read_text("utf-8"))
    raw["events"] = [e for e in raw["events"] if int(e["eventId"]) <= last_event]
    return WorkflowHistory.from_json("case-CH-b6b0cc-0132", json.dumps(raw))


@pytest.fixture
def wakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    on_timer = entry.on_timer

    def recording(case: Any, now: datetime) -> Any:
        seen.append(now.isoformat())
        return on_timer(case, now)

    monkeypatch.setattr(entry, "on_timer", recording)
    yield seen


async def test_the_query_tasks_cut_does_not_wake_on_the_old_clock(wakes: list[str]) -> None:
    converter = converter_for(Settings(env="development"))
    await replay_histories([history_up_to(13)], converter=converter)
    assert SET_AT not in wakes
    assert wakes == []


async def test_the_next_real_task_wakes_on_its_own_clock(wakes: list[str]) -> None:
    converter = converter_for(Settings(env="development"))
    await replay_histories([history_up_to(14)], converter=converter)
    assert wakes == [NEXT_TASK]


SEED42 = (
    Path(__file__).resolve().parents[2] / "docs/incidents/2026-12-03-chaos-seed42-case-0138.json"
)
UPDATE_TASK = "2026-12-03T17:12:41.334283+00:00"  # a note's task, after the one that set the timer
SEED42_FIRST_TASK = "2026-12-03T17:12:39.832156+00:00"  # the case starts and sets the timer
SEED42_NEXT_TASK = "2026-12-03T17:12:45.261124+00:00"


def seed42_up_to(last_event: int) -> WorkflowHistory:
    raw = json.loads(SEED42.read_text("utf-8"))
    raw["events"] = [e for e in raw["events"] if int(e["eventId"]) <= last_event]
    return WorkflowHistory.from_json("case-CH-ebdcfa-0138", json.dumps(raw))


async def test_a_ring_on_a_later_updates_clock_is_refused_too(wakes: list[str]) -> None:
    """Chaos seed 42: the timer was set in task 1, a note's update ran in task 2, the timer
    fired; a query task's run of that history rang it on task 2's clock, before it was due,
    and the equality check let it through (the next task sent a bare 1 s timer)."""
    converter = converter_for(Settings(env="development"))
    await replay_histories([seed42_up_to(17)], converter=converter)
    assert UPDATE_TASK not in wakes
    assert set(wakes) == {SEED42_FIRST_TASK}  # only the start's own wake


async def test_seed42s_next_real_task_wakes_on_its_own_clock(wakes: list[str]) -> None:
    converter = converter_for(Settings(env="development"))
    await replay_histories([seed42_up_to(18)], converter=converter)
    assert set(wakes) == {SEED42_FIRST_TASK, SEED42_NEXT_TASK} and wakes[-1] == SEED42_NEXT_TASK
