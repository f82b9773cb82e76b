"""The ``CollectionCase`` workflow: one durable case per overdue loan, as a thin shell.

Every rule lives in the pure core (``workflows/core``); this shell only runs what the core asks
(DESIGN §3): contacts and bookkeeping as activities, one timer aimed where the core says, the
read model's events synced once per batch, continue-as-new when Temporal suggests it. Updates
and signals keep their wave-1 names (the HTTP contract); each is decoded by the action table
and handed to the core, whose refusal sentence becomes the update's rejection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError, CancelledError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from models import activities as act
    from models import case as c
    from models import search_attributes as sa
    from models.actions import ActionSpec, Kind, by_handler
    from models.activity_options import CONTACT_RETRY, RECORD_RETRY
    from models.common import SYSTEM_ACTOR, Actor
    from models.contact_failures import contact_failure
    from workflows.core import effects as fx
    from workflows.core import entry, outbox, results, view
    from workflows.core.refusal import Refusal

UPDATES: dict[str, ActionSpec] = by_handler(Kind.UPDATE)
SIGNALS: dict[str, ActionSpec] = by_handler(Kind.SIGNAL)
_WAKES_PER_INSTANT = 8
_SEND: workflow.LocalActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(hours=1),  # then dropped, not sent late
    "retry_policy": CONTACT_RETRY,
    "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}
_RESULT = act.ContactResult


@workflow.defn(name="CollectionCase")
class CollectionCase:
    @workflow.init
    def __init__(self, inp: c.CaseInput) -> None:
        self.inp = inp
        now = workflow.now()
        # The opening event is queued here, not in run(): a signal delivered with the first
        # task is handled before run() starts, and must come after it.
        self.case, self._pending = entry.from_input(inp, workflow.info().workflow_id, now)
        self._events: list[act.CaseEvent] = []
        self._until: datetime | None = now  # the first task does what is due at once
        # The loop's clock: read after a wait a history event ended, never after a local
        # activity (docs/incidents/2026-12-02-chaos-seed14.md).
        self._now = now
        self._woken_at: tuple[datetime, int] = (now, 0)
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: Any = None
        # The earliest clock a real task can ring the timer on: set clock + delay (below).
        self._timer_rings_from: datetime | None = None
        self._indexed: tuple[Any, ...] = ()
        self._lean = False

    # ------------------------------------------------------------------ the loop

    @workflow.run
    async def run(self, inp: c.CaseInput) -> c.CaseView:
        # Lean runs (DESIGN §3): contacts as local activities, one read-model sync per task.
        # Implies "borrower-caps": one patch marker (and its version upsert) per run, not two.
        self._lean = workflow.patched("local-contacts")
        while True:
            await self._drain()
            if entry.finished(self.case):
                break
            if self._history_is_long():
                await self._continue_as_new()
            if self._due():
                await self._wake(self._now)
                continue
            if await self._flush() and self._pending:
                continue  # a handler ran during the sync: no history event, no new clock
            self._aim()
            await self._wait_for(lambda: bool(self._pending) or self._rang())
            if self._rang():
                self._refuse_a_stale_ring()
                self._timer = self._timer_at = None
                await self._wake(self._now)
        await self._wait_for(workflow.all_handlers_finished)
        await self._drain()
        await self._flush()
        return view.case_view(self.case, self._now)

    async def _wait_for(self, ready: Callable[[], bool]) -> None:
        """Wait, and read the clock if the wait blocked: then a history event ended it."""
        if not ready():
            await workflow.wait_condition(ready)
            self._tick()

    def _tick(self) -> None:
        """Read the clock: only right after a wait that a history event ended."""
        self._now = workflow.now()

    def _due(self) -> bool:
        """Is the next step due at the loop's clock? A few times per clock reading at most: the
        core settles what is due at one instant, and a wait of a second bounds any loop."""
        if self._until is None or self._until > self._now:
            return False
        at, times = self._woken_at
        times = times + 1 if at == self._now else 1
        self._woken_at = (self._now, times)
        return times <= _WAKES_PER_INSTANT

    async def _wake(self, now: datetime) -> None:
        """Do what is due; before a contact, read the borrower's other loans (caps per borrower)."""
        channel = entry.contact_due(self.case, now)
        if channel and (self._lean or workflow.patched("borrower-caps")):
            ask = entry.borrower_query(self.case, self.inp.borrower.id, now, channel)
            seen = await self._local(act.BORROWER_CONTACTS, ask, act.BorrowerContacts)
            entry.borrower_contacts(self.case, seen.contacts, now)
        self._pending.extend(entry.on_timer(self.case, now))

    def _aim(self) -> None:
        """One timer per wait: re-armed only when the core aims it somewhere else."""
        if self._timer_at == self._until and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at, self._timer = self._until, None
        if self._until is not None:
            delay = max(self._until - self._now, timedelta(seconds=1))
            self._timer = asyncio.create_task(workflow.sleep(delay))
            self._timer_rings_from = workflow.now() + delay

    def _refuse_a_stale_ring(self) -> None:
        """A timer fires in a later workflow task than the one that set it, on a clock no
        earlier than the setting task's clock plus the delay (the server starts the timer when
        that task completes, and a task's clock is its start). Except on a worker answering a
        query for a case it does not hold, where the SDK runs the history's new events, this
        timer's firing among them, on the previous task's clock (chaos seeds 20 and 42,
        docs/incidents): waking then would find nothing due, re-arm the timer, and the next
        real task would send that timer instead of what is due (the commands no replay makes).
        Seed 20's previous task had set the timer; seed 42's was a later update's, which an
        equality check missed. Failing this activation instead makes the worker drop the run
        (the query fails and is asked again), and the real task replays it on its own clock."""
        if self._timer_rings_from is not None and workflow.now() < self._timer_rings_from:
            raise RuntimeError(
                "a timer fired without a new workflow task (a query task ran the history's new "
                "events on the previous task's clock); refusing to wake on that clock"
            )

    def _rang(self) -> bool:
        return self._timer is not None and self._timer.done()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or (
            info.get_current_history_length() > self.inp.strategy.continue_as_new_events
        )

    async def _continue_as_new(self) -> None:
        await self._wait_for(workflow.all_handlers_finished)
        await self._drain()
        await self._flush()
        carried = c.CarriedState.model_validate(self.case.s.model_dump(mode="json"))
        workflow.continue_as_new(self.inp.model_copy(update={"carried_state": carried}))

    # ------------------------------------------------------------------ effects

    async def _drain(self) -> None:
        """Run what the core asked for, in order, then sync the read model once."""
        while self._pending:
            effect = self._pending.pop(0)
            if isinstance(effect, fx.Event):
                self._events.append(view.case_event(self.case, effect))
                self._count(effect)
            elif isinstance(effect, fx.Timer):
                self._until = effect.until
            elif isinstance(effect, fx.Contact):
                await self._send(effect)
            elif isinstance(effect, fx.Alert):
                await self._local(act.NOTIFY_SUPERVISOR, outbox.alert_input(self.case, effect))
            elif isinstance(effect, fx.AssignCollectors):
                await self._assign(effect)
            elif isinstance(effect, fx.LegalHandoff):
                await self._hand_off(effect)
            # fx.DoNotContact: the opt-out is in the case's state and the read model's
            # preference event; a register that outlives the case is the trust issue's (16).
        self._index()
        if not self._lean:  # runs from before lean history synced after every batch
            await self._sync()

    async def _flush(self) -> bool:
        """Lean runs sync the read model once, just before the case waits."""
        return self._lean and await self._sync()

    async def _sync(self) -> bool:
        if not self._events:
            return False
        events, self._events = self._events, []
        length = workflow.info().get_current_history_length()  # the task's place: sync_order
        proj = view.projection(self.case, self.inp.borrower.id, events, self._now, length)
        await self._local(act.SYNC_CASE, proj, act.SyncResult)
        return True

    async def _local(self, name: str, arg: Any, result_type: type | None = None) -> Any:
        """Bookkeeping on the case worker as a local activity: one marker in the history."""
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )

    async def _send(self, contact: fx.Contact) -> None:
        name, arg = outbox.activity_input(self.case, self.inp.borrower, contact)
        handle, local = self._start_contact(name, arg)
        await workflow.wait_condition(lambda: handle.done() or self._overtaken(contact))
        cancelled = not handle.done() and handle.cancel()
        result = await self._contact_result(handle, cancelled)
        if not local:  # a local activity's result comes with no history event of its own
            self._tick()
        said = f"{contact.channel.value} {contact.step}: {result.outcome.value}"
        workflow.logger.info("contact %s", said, extra={"case_id": self.case.s.case_id})
        self._pending.extend(results.contact_result(self.case, contact, result, self._now))

    def _start_contact(self, name: str, arg: Any) -> tuple[Any, bool]:
        """A lean run sends as a local activity (one marker; a queued activity costs six
        events), paced by the worker (activities/pace.py); older runs keep the queue. On
        cancel, wait for the word: a running attempt reports what it sent."""
        if self._lean:
            return workflow.start_local_activity(name, arg, result_type=_RESULT, **_SEND), True
        queued = workflow.start_activity(
            name,
            arg,
            result_type=_RESULT,
            task_queue=self.inp.messaging_task_queue,
            start_to_close_timeout=_SEND["start_to_close_timeout"],
            schedule_to_close_timeout=_SEND["schedule_to_close_timeout"],
            retry_policy=CONTACT_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return queued, False

    def _overtaken(self, contact: fx.Contact) -> bool:
        """While the provider is retried the case may move on: paid, paused, opted out."""
        s = self.case.s
        forbidden = s.cease_contact or contact.channel in s.opted_out
        return forbidden or (not contact.transactional and (s.stage.terminal or s.dispute_open))

    @staticmethod
    async def _contact_result(handle: Any, cancelled: bool) -> act.ContactResult:
        try:
            result: act.ContactResult = await handle
            return result
        except FailureError as err:  # queued: an ActivityError; local: the error itself
            return contact_failure(err)
        except asyncio.CancelledError:  # ours, before it started (chaos seed 15 on lean)
            if not cancelled:
                raise
            return contact_failure(CancelledError("cancelled before it started"))

    async def _assign(self, effect: fx.AssignCollectors) -> None:
        arg = outbox.assign_input(self.case, effect)
        result = await self._local(act.ASSIGN_FIELD_AGENTS, arg, act.AssignAgentsResult)
        self._pending.extend(
            results.collectors_result(
                self.case, effect.visit_no, result.agents, result.reason, self._now
            )
        )

    async def _hand_off(self, effect: fx.LegalHandoff) -> None:
        arg = outbox.legal_input(self.case, self.inp.loan, self.inp.borrower, effect, self._now)
        result = await workflow.execute_activity(
            act.HAND_OFF_TO_LEGAL,
            arg,
            result_type=act.LegalHandoffResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RECORD_RETRY,
        )
        self._tick()
        self._pending.extend(results.legal_result(self.case, result.reference, self._now))

    def _index(self) -> None:
        """Search attributes: set at start, upserted only when one of them changed."""
        values = outbox.index_values(self.case, self._now)
        if not self.inp.search_attributes or values == self._indexed:
            return
        self._indexed = values
        workflow.upsert_search_attributes(sa.updates(values, self.inp.strategy.id))

    def _count(self, event: fx.Event) -> None:
        """Bump a counter on the worker's metrics endpoint; the SDK skips it during replay."""
        if (found := entry.metric(event)) is not None:
            workflow.metric_meter().create_counter(found[0]).add(1, found[1])

    # ------------------------------------------------------------------ handlers

    @workflow.query(name=c.QUERY_STATE)
    def state(self, role: str | None = None) -> c.CaseView:
        """The case view; ``allowed_actions`` for one role when named (cheaper), else all."""
        return view.case_view(self.case, workflow.now(), role)

    def _decode(
        self, table: dict[str, ActionSpec], name: str, args: Sequence[RawValue]
    ) -> tuple[ActionSpec, Any, Actor]:
        spec = table.get(name)
        if spec is None or spec.input is None or len(args) != 1:
            raise ApplicationError(f"{name!r} is not an action of a case", non_retryable=True)
        inp = workflow.payload_converter().from_payload(args[0].payload, spec.input)
        return spec, inp, getattr(inp, "actor", SYSTEM_ACTOR)

    @workflow.update(dynamic=True)
    def on_update(self, name: str, args: Sequence[RawValue]) -> c.UpdateReceipt:
        spec, inp, actor = self._decode(UPDATES, name, args)
        now = workflow.now()
        self._pending.extend(entry.handle(self.case, spec.name, inp, actor, now))
        return view.receipt(self.case, now)

    @on_update.validator
    def _check_update(self, name: str, args: Sequence[RawValue]) -> None:
        spec, inp, actor = self._decode(UPDATES, name, args)
        try:
            entry.validate(self.case, spec.name, inp, actor, workflow.now())
        except Refusal as refusal:
            raise ApplicationError(refusal.en, refusal.code, refusal.zh, type="Refusal") from None

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        now = workflow.now()
        try:
            spec, inp, actor = self._decode(SIGNALS, name, args)
        except Exception as err:  # nobody waits on a signal: on record, never a stuck case
            why = f"signal {name!r} could not be read: {err}"
            self._pending.append(fx.Event("refused", why, now, SYSTEM_ACTOR, {"code": "signal"}))
            return
        self._pending.extend(entry.signal(self.case, spec.name, inp, actor, now))
