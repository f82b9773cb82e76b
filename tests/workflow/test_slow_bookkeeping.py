"""A case whose bookkeeping (local activities) outlasts its next wait still replays.

Chaos seed 14 (docs/incidents/2026-12-02-chaos-seed14.md): on a loaded worker two alerts and two
read-model syncs took 7.5 s inside one workflow task. The workflow clock moves while local
activities run, and replay does not move it the same way, so a decision taken on the clock read
after a local activity ("is the next step due yet?") came out differently on replay and the case
failed every task from then on. Here the bookkeeping is made slow on purpose, on the real dev
server and its real clock, and the recorded history must replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from models import activities as act
from models import case as c
from models.common import case_id_for
from tests import factories
from tests.conftest import TEST_CONVERTER
from tests.stand_ins import StandIns, running_workers
from workers.runner import workflow_runner
from workflows.case import CollectionCase

SLOW = 1.5  # seconds per alert and per sync: most of a strategy day


ALERTS = 2


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__temporal_activity_definition").name)


@dataclass
class SlowBookkeeping(StandIns):
    """The stand-ins, with the supervisor alert and the read-model sync slowed down."""

    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Callable[..., Any]]:
        fast = {_name(fn): fn for fn in super().activities()}

        @activity.defn(name=act.NOTIFY_SUPERVISOR)
        async def notify(inp: act.SupervisorAlert) -> None:
            await asyncio.sleep(SLOW)
            self.alerts.append(inp)
            if len(self.alerts) >= ALERTS:
                self.enough.set()

        @activity.defn(name=act.SYNC_CASE)
        async def sync(inp: act.CaseProjection) -> act.SyncResult:
            await asyncio.sleep(SLOW)
            self.projections.append(inp)
            return act.SyncResult.of(inp.events)

        fast.update({act.NOTIFY_SUPERVISOR: notify, act.SYNC_CASE: sync})
        return list(fast.values())


async def test_slow_local_activities_leave_a_history_that_replays(
    dev_env: WorkflowEnvironment, task_queue: str, messaging_queue: str
) -> None:
    stand_ins = SlowBookkeeping(agents=[])  # no collectors: the visit waits, alerts repeat
    strategy = factories.seconds_strategy(day_seconds=2)
    borrower = factories.borrower(timezone=factories.open_window_zone())
    inp = factories.case_input(
        messaging_queue=messaging_queue, strategy=strategy, the_borrower=borrower
    )
    workflow_id = case_id_for(f"SLOW-{uuid.uuid4().hex[:8]}")
    async with running_workers(dev_env.client, task_queue, messaging_queue, stand_ins):
        handle = await dev_env.client.start_workflow(
            CollectionCase.run, inp, id=workflow_id, task_queue=task_queue
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stand_ins.enough.wait(), timeout=45)
        view = await handle.query(c.QUERY_STATE, result_type=c.CaseView)
        await handle.terminate("test over")
    alerts = len(stand_ins.alerts)
    assert alerts >= ALERTS, f"only {alerts} alerts; stage {view.stage}"

    history: WorkflowHistory = await handle.fetch_history()
    replayer = Replayer(
        workflows=[CollectionCase],
        data_converter=TEST_CONVERTER,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, str(result.replay_failure)
