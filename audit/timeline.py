"""A case's readable timeline, built from its Temporal histories: the canonical one.

Temporal's history is the source of truth. The timeline reads it across every run of a case
(continue-as-new chains) and keeps, in history order:

- every ``CaseEvent`` the workflow sent to the read model in its ``sync_case`` activity inputs:
  contact decisions (sent / deferred until / blocked and why), stage transitions, payments,
  operator actions with their actor (``source="case_event"``);
- every accepted update with its decoded input and actor (``source="update"``), and an
  ``update_failed`` entry when an accepted update's handler failed; rejected updates never
  change a case and are left out;
- every signal with its input (``source="signal"``);
- activities that failed for good or timed out, after their retries (``source="activity"``);
- timers started, fired and cancelled (``source="timer"``);
- each run's start (strategy id and version in force), continue-as-new and end, and failed
  workflow tasks (a code fault, a non-deterministic change, a reset) (``source="workflow"``).

An operator action therefore appears twice, once as the update that asked for it and once as the
case events it caused; ``source`` tells them apart. Case events are de-duplicated by their
case-wide sequence number (a reset run repeats its predecessor's events).

Each entry names its run by id and by number (``run``: 1 for the first run handed in, 2 for
the run it continued as, ...). Entries are ordered run by run (first run first), within a run
by the time of the history event that carries them, then its event id, then the case-event
sequence within one ``sync_case``.
``at`` is when the thing happened: for a case event, the workflow time at which the workflow
decided it, which can be a little earlier than the history event that reported it.

Pure: no I/O except :func:`fetch_case_histories`. Payloads are decoded with the data
converter's payload converter; histories whose payloads pass through a codec must be decoded
before they are handed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import RetryState, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from audit.decode import decoded_history
from models import activities as act
from models import case as c
from models.actions import Kind, by_handler
from models.common import Actor, Stage

Source = Literal["case_event", "update", "signal", "activity", "timer", "workflow"]

# Decoded by the action table's contracts, so a new action needs no edit here.
UPDATE_INPUTS: dict[str, type[BaseModel]] = {
    name: spec.input for name, spec in by_handler(Kind.UPDATE).items() if spec.input
}
SIGNAL_INPUTS: dict[str, type[BaseModel]] = {
    name: spec.input for name, spec in by_handler(Kind.SIGNAL).items() if spec.input
}


class TimelineEntry(BaseModel):
    """One line of a case's audit timeline."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    run: int = Field(description="1 for the first run of the case, 2 after a continue-as-new, ...")
    run_id: str
    event_id: int = Field(description="the history event that carries this entry, in its run")
    seq: int | None = Field(default=None, description="the case event's case-wide sequence")
    source: Source
    stage: str | None
    kind: str
    actor_id: str | None = None
    actor_role: str | None = None
    summary: str
    details: dict[str, str] = Field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _actor(value: Any) -> Actor | None:
    """The actor an input names, whether it decoded as its model or only as raw JSON."""
    found = value.get("actor") if isinstance(value, dict) else getattr(value, "actor", None)
    if isinstance(found, Actor):
        return found
    try:
        return Actor.model_validate(found) if found is not None else None
    except ValidationError:
        return None


class _Reader:
    """Walks one case's runs in order, remembering the stage as it goes."""

    def __init__(self, converter: DataConverter) -> None:
        self.payloads = converter.payload_converter
        self.stage: str | None = None
        self.seen_seqs: set[int] = set()
        self.seen_updates: set[str] = set()
        self.failed_updates: set[str] = set()
        # (run, event id) of an accepted update / a scheduled activity -> what it was
        self.updates: dict[tuple[int, int], tuple[str, Actor | None]] = {}
        self.activities: dict[tuple[int, int], str] = {}
        self.entries: list[tuple[tuple[int, datetime, int, int], TimelineEntry]] = []

    # -- decoding

    def decode(self, payloads: Payloads, hint: type[BaseModel] | None) -> tuple[Any, str | None]:
        """The first payload as ``hint`` (or raw JSON when it does not fit), and any problem."""
        if not payloads.payloads:
            return None, None
        if hint is not None:
            try:
                return self.payloads.from_payloads(payloads.payloads, [hint])[0], None
            except (ValidationError, ValueError, TypeError) as exc:
                problem = f"does not decode as {hint.__name__}: {exc}"
        else:
            problem = None
        try:
            return self.payloads.from_payloads(payloads.payloads, None)[0], problem
        except Exception as exc:  # an undecodable payload is reported, never fatal
            return None, f"undecodable payload: {exc}"

    # -- entries

    def add(self, run: int, event: HistoryEvent, entry: TimelineEntry, sub: int = 0) -> None:
        key = (run, _event_time(event), event.event_id, sub)
        self.entries.append((key, entry))

    def entry(
        self,
        run: int,
        run_id: str,
        event: HistoryEvent,
        source: Source,
        kind: str,
        summary: str,
        *,
        details: dict[str, str] | None = None,
        actor: Actor | None = None,
    ) -> TimelineEntry:
        return TimelineEntry(
            at=_event_time(event),
            run=run + 1,
            run_id=run_id,
            event_id=event.event_id,
            source=source,
            stage=self.stage,
            kind=kind,
            actor_id=actor.id if actor is not None else None,
            actor_role=actor.role.value if actor is not None else None,
            summary=summary,
            details=details or {},
        )

    def action(self, run: int, run_id: str, event: HistoryEvent, source: Source) -> None:
        """An accepted update or a signal: its name, its decoded input and its actor."""
        if source == "update":
            attrs = event.workflow_execution_update_accepted_event_attributes
            name = attrs.accepted_request.input.name
            args = attrs.accepted_request.input.args
            hint = UPDATE_INPUTS.get(name)
            update_id = attrs.accepted_request.meta.update_id
            if update_id in self.seen_updates:  # a reset run repeats accepted updates
                return
            self.seen_updates.add(update_id)
            extra = {"update_id": update_id}
        else:
            sig = event.workflow_execution_signaled_event_attributes
            name, args, hint = sig.signal_name, sig.input, SIGNAL_INPUTS.get(sig.signal_name)
            extra = {"identity": sig.identity} if sig.identity else {}
        value, problem = self.decode(args, hint)
        actor = _actor(value)
        if source == "update":
            self.updates[(run, event.event_id)] = (name, actor)
        if isinstance(value, BaseModel):
            fields = value.model_dump(mode="json", exclude={"actor"})
        elif isinstance(value, dict):
            fields = {k: v for k, v in value.items() if k != "actor"}
        else:
            fields = {} if value is None else {"input": value}
        details = {k: _text(v) for k, v in fields.items() if v not in (None, "", [], {})}
        details.update(extra)
        if problem:
            details["decode_problem"] = problem
        shown = ", ".join(f"{k}={v}" for k, v in details.items() if k not in extra)
        by = f" by {actor.id} ({actor.role.value})" if actor is not None else ""
        summary = f"{source} {name}{by}" + (f": {shown}" if shown else "")
        self.add(
            run,
            event,
            self.entry(run, run_id, event, source, name, summary, details=details, actor=actor),
        )

    def update_completed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """An accepted update whose handler then failed: the action did not happen."""
        attrs = event.workflow_execution_update_completed_event_attributes
        update_id = attrs.meta.update_id
        if not attrs.outcome.HasField("failure") or update_id in self.failed_updates:
            return
        self.failed_updates.add(update_id)
        name, actor = self.updates.get((run, attrs.accepted_event_id), ("update", None))
        message = attrs.outcome.failure.message
        details = {"update": name, "update_id": update_id, "failure": message}
        summary = f"update {name} failed after it was accepted: {message}"
        self.add(
            run,
            event,
            self.entry(
                run, run_id, event, "update", "update_failed", summary, details=details, actor=actor
            ),
        )

    def activity_scheduled(self, run: int, run_id: str, event: HistoryEvent) -> None:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        self.activities[(run, event.event_id)] = name
        if name == act.SYNC_CASE:
            self.case_events(run, run_id, event)

    def activity_failed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """An activity that failed for good (retries exhausted or non-retryable) or timed out."""
        if event.HasField("activity_task_failed_event_attributes"):
            failed = event.activity_task_failed_event_attributes
            scheduled, failure, kind = failed.scheduled_event_id, failed.failure, "failed"
            retry_state = failed.retry_state
        else:
            timed_out = event.activity_task_timed_out_event_attributes
            scheduled, failure, kind = timed_out.scheduled_event_id, timed_out.failure, "timed_out"
            retry_state = timed_out.retry_state
        name = self.activities.get((run, scheduled), "activity")
        details = {
            "activity": name,
            "scheduled_event_id": str(scheduled),
            "failure": failure.message,
            "retry_state": RetryState.Name(retry_state).removeprefix("RETRY_STATE_").lower(),
        }
        if failure.HasField("application_failure_info") and failure.application_failure_info.type:
            details["failure_type"] = failure.application_failure_info.type
        summary = f"activity {name} {kind.replace('_', ' ')}: {failure.message}"
        self.emit(run, run_id, event, "activity", f"activity_{kind}", summary, details)

    def workflow_task_failed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """A failed workflow task: a fault or non-determinism in the workflow code, or a reset.

        ``UNHANDLED_COMMAND`` (new input arrived while the task completed; the server simply
        runs another task) is routine and left out.
        """
        attrs = event.workflow_task_failed_event_attributes
        if attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND:
            return
        cause = (
            WorkflowTaskFailedCause.Name(attrs.cause)
            .removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
            .lower()
        )
        details = {"cause": cause, "failure": attrs.failure.message}
        if attrs.base_run_id:
            details["base_run_id"] = attrs.base_run_id
        if attrs.new_run_id:
            details["new_run_id"] = attrs.new_run_id
        if attrs.identity:
            details["identity"] = attrs.identity
        summary = f"workflow task failed ({cause.replace('_', ' ')})"
        if attrs.failure.message:
            summary += f": {attrs.failure.message}"
        self.emit(run, run_id, event, "workflow", "workflow_task_failed", summary, details)

    def case_events(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """Wave 1: the events in a ``sync_case`` activity's input."""
        attrs = event.activity_task_scheduled_event_attributes
        value, problem = self.decode(attrs.input, act.CaseProjection)
        if not isinstance(value, act.CaseProjection):
            summary = f"sync_case input could not be read: {problem}"
            self.emit(run, run_id, event, "case_event", "unreadable", summary)
            return
        self.add_case_events(run, run_id, event, value.events)

    def marker(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """Wave 2: the sync runs as a local activity; its marker's result holds the events."""
        attrs = event.marker_recorded_event_attributes
        if attrs.marker_name != "core_local_activity" or "data" not in attrs.details:
            return
        try:
            meta = json.loads(attrs.details["data"].payloads[0].data)
        except (ValueError, IndexError):
            return
        if meta.get("activity_type") != act.SYNC_CASE or "result" not in attrs.details:
            return
        value, problem = self.decode(attrs.details["result"], act.SyncResult)
        if not isinstance(value, act.SyncResult):
            summary = f"sync_case result could not be read: {problem}"
            self.emit(run, run_id, event, "case_event", "unreadable", summary)
            return
        self.add_case_events(run, run_id, event, value.events)

    def add_case_events(
        self, run: int, run_id: str, event: HistoryEvent, events: list[act.CaseEvent]
    ) -> None:
        for case_event in events:
            if case_event.seq in self.seen_seqs:
                continue
            self.seen_seqs.add(case_event.seq)
            self.stage = case_event.stage.value
            entry = TimelineEntry(
                at=case_event.at,
                run=run + 1,
                run_id=run_id,
                event_id=event.event_id,
                seq=case_event.seq,
                source="case_event",
                stage=case_event.stage.value,
                kind=case_event.kind.value,
                actor_id=case_event.actor.id,
                actor_role=case_event.actor.role.value,
                summary=case_event.summary,
                details=dict(case_event.details),
            )
            self.add(run, event, entry, sub=case_event.seq)

    def emit(
        self,
        run: int,
        run_id: str,
        event: HistoryEvent,
        source: Source,
        kind: str,
        summary: str,
        details: dict[str, str] | None = None,
    ) -> None:
        self.add(run, event, self.entry(run, run_id, event, source, kind, summary, details=details))

    def started(self, run: int, run_id: str, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        value, problem = self.decode(attrs.input, c.CaseInput)
        details = {"workflow_type": attrs.workflow_type.name, "task_queue": attrs.task_queue.name}
        if attrs.continued_execution_run_id:
            details["continued_from"] = attrs.continued_execution_run_id
        if attrs.identity:
            details["identity"] = attrs.identity
        if isinstance(value, c.CaseInput):
            carried = value.carried_state
            self.stage = (carried.stage if carried else Stage.REMINDING).value
            strategy = value.strategy
            details.update(
                strategy_id=strategy.id,
                strategy_version=str(strategy.version),
                loan_id=value.loan.loan_id,
                borrower_id=value.borrower.id,
                amount_overdue=c.money_str(value.loan.amount_overdue),
            )
            what = f"run {carried.run_number + 1} started" if carried else "case started"
            summary = f"{what} on strategy {strategy.id} v{strategy.version}"
        else:
            summary = f"run started; input could not be read: {problem}"
        self.emit(run, run_id, event, "workflow", "workflow_started", summary, details)

    def closed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        if event.HasField("workflow_execution_continued_as_new_event_attributes"):
            new_run = (
                event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            )
            summary = f"continued as new run {new_run}"
            details = {"new_run_id": new_run}
            self.emit(run, run_id, event, "workflow", "continued_as_new", summary, details)
        elif event.HasField("workflow_execution_completed_event_attributes"):
            result = event.workflow_execution_completed_event_attributes.result
            value, _ = self.decode(result, c.CaseView)
            summary, details = "case completed", {}
            if isinstance(value, c.CaseView):
                details = {"stage": value.stage.value, "balance": c.money_str(value.balance)}
                summary += f" in stage {value.stage.value}, balance {details['balance']}"
            self.emit(run, run_id, event, "workflow", "workflow_completed", summary, details)
        else:
            which = event.WhichOneof("attributes") or ""
            name = which.removeprefix("workflow_execution_").removesuffix("_event_attributes")
            summary = f"run ended: {name.replace('_', ' ')}"
            self.emit(run, run_id, event, "workflow", f"workflow_{name}", summary)

    def timer(self, run: int, run_id: str, event: HistoryEvent) -> None:
        if event.HasField("timer_started_event_attributes"):
            attrs = event.timer_started_event_attributes
            fire_at = (_event_time(event) + attrs.start_to_fire_timeout.ToTimedelta()).isoformat()
            summary = f"timer {attrs.timer_id} started; fires at {fire_at}"
            details = {"timer_id": attrs.timer_id, "fires_at": fire_at}
            self.emit(run, run_id, event, "timer", "timer_started", summary, details)
        elif event.HasField("timer_fired_event_attributes"):
            timer_id = event.timer_fired_event_attributes.timer_id
            summary = f"timer {timer_id} fired"
            self.emit(run, run_id, event, "timer", "timer_fired", summary, {"timer_id": timer_id})
        else:
            timer_id = event.timer_canceled_event_attributes.timer_id
            summary = f"timer {timer_id} cancelled (the wait ended early)"
            details = {"timer_id": timer_id}
            self.emit(run, run_id, event, "timer", "timer_canceled", summary, details)


def _event_time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


_CLOSING = frozenset(
    {
        "workflow_execution_completed_event_attributes",
        "workflow_execution_failed_event_attributes",
        "workflow_execution_timed_out_event_attributes",
        "workflow_execution_terminated_event_attributes",
        "workflow_execution_canceled_event_attributes",
        "workflow_execution_continued_as_new_event_attributes",
    }
)
_TIMERS = frozenset(
    {
        "timer_started_event_attributes",
        "timer_fired_event_attributes",
        "timer_canceled_event_attributes",
    }
)


def history_run_id(history: WorkflowHistory) -> str:
    """The run a history belongs to (its first event names it)."""
    attrs = history.events[0].workflow_execution_started_event_attributes
    return attrs.original_execution_run_id or history.run_id


def build_timeline(
    histories: Sequence[WorkflowHistory], converter: DataConverter = pydantic_data_converter
) -> list[TimelineEntry]:
    """The timeline of one case from its runs' histories, given first run first."""
    reader = _Reader(converter)
    handlers: dict[str, Callable[[int, str, HistoryEvent], None]] = {
        "workflow_execution_started_event_attributes": reader.started,
        "workflow_execution_update_accepted_event_attributes": lambda r, i, e: reader.action(
            r, i, e, "update"
        ),
        "workflow_execution_signaled_event_attributes": lambda r, i, e: reader.action(
            r, i, e, "signal"
        ),
        "workflow_execution_update_completed_event_attributes": reader.update_completed,
        "activity_task_scheduled_event_attributes": reader.activity_scheduled,
        "activity_task_failed_event_attributes": reader.activity_failed,
        "activity_task_timed_out_event_attributes": reader.activity_failed,
        "workflow_task_failed_event_attributes": reader.workflow_task_failed,
        "marker_recorded_event_attributes": reader.marker,
        **dict.fromkeys(_CLOSING, reader.closed),
        **dict.fromkeys(_TIMERS, reader.timer),
    }
    for run, history in enumerate(histories):
        if not history.events:
            continue
        run_id = history_run_id(history)
        for event in history.events:
            which = event.WhichOneof("attributes") or ""
            handler = handlers.get(which)
            if handler is not None:
                handler(run, run_id, event)
    reader.entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in reader.entries]


class TooManyRuns(Exception):
    """The case has more runs than the caller will fetch at once."""


async def fetch_case_histories(
    client: Client, case_id: str, *, max_runs: int | None = None
) -> list[WorkflowHistory]:
    """Every run of a case's latest chain, first run first (more than ``max_runs``: raises
    :class:`TooManyRuns`, so a request never fetches without bound).

    Payloads are decoded through the client's codec. Starts from the latest run (a handle
    without run id describes it) and walks back through each run's
    ``continued_execution_run_id``; needs no visibility queries, so it works on the
    time-skipping test server too.
    """
    latest = await client.get_workflow_handle(case_id).describe()
    histories: list[WorkflowHistory] = []
    run_id: str | None = latest.run_id
    seen: set[str] = set()
    while run_id and run_id not in seen:
        if max_runs is not None and len(seen) >= max_runs:
            raise TooManyRuns(f"case {case_id} has more than {max_runs} runs")
        seen.add(run_id)
        history = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
        # Decoded as the workflow saw it: the timeline and the export read the payloads.
        histories.append(await decoded_history(history, client.data_converter.payload_codec))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    histories.reverse()
    return histories
