"""A case's audit timeline, read from its Temporal histories (the source of truth).

Pure functions over :class:`temporalio.client.WorkflowHistory`, so the API and the auditor CLI
build the same timeline: :func:`build_timeline` takes the runs of one case oldest first (a case
continues-as-new; :func:`fetch_case_histories` walks the chain back from the current run).

What goes in: each run's start (strategy in force), every accepted update with its input and
actor, every signal, the workflow's own case events carried by ``sync_case`` activities (contact
decisions sent / deferred until / blocked and why, stage transitions, payments, promises ...),
other activities scheduled, activity failures, timers started and fired, and how each run ended.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from models.activities import SYNC_CASE
from models.common import Actor, Role, Stage, StrategyRef


class TimelineEntry(BaseModel):
    time: datetime
    run: int = Field(description="1 for the first run of the case, 2 after a continue-as-new, ...")
    event_id: int = Field(description="the Temporal history event this entry comes from")
    stage: Stage | None = Field(description="the case's stage at that point, as last recorded")
    kind: str = Field(
        description="run_started, update, update_failed, signal, case_event, activity, "
        "activity_failed, timer, timer_fired, continued_as_new, run_completed, run_ended"
    )
    name: str = Field(description="update/signal/activity name, or the case event's kind")
    actor: Actor | None = None
    summary: str
    details: dict[str, str] = Field(default_factory=dict)


class Timeline(BaseModel):
    case_id: str
    runs: list[str] = Field(description="run ids, oldest first")
    strategy: StrategyRef | None = None
    entries: list[TimelineEntry]


def previous_run_id(history: WorkflowHistory) -> str | None:
    """The run this one continued from, if it was started by continue-as-new."""
    if not history.events:
        return None
    first = history.events[0]
    if not first.HasField("workflow_execution_started_event_attributes"):
        return None
    previous = first.workflow_execution_started_event_attributes.continued_execution_run_id
    return previous or None


async def fetch_case_histories(
    client: Client, workflow_id: str, *, max_runs: int = 1000
) -> list[WorkflowHistory]:
    """Every run of the current case, oldest first, following continue-as-new back."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while len(histories) < max_runs:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = previous_run_id(history)
        if run_id is None:
            break
    histories.reverse()
    return histories


def build_timeline(histories: Sequence[WorkflowHistory]) -> Timeline:
    """The readable timeline of one case from its runs' histories, oldest run first."""
    builder = _Builder()
    for run, history in enumerate(histories, start=1):
        builder.run(run, history)
    case_id = histories[0].workflow_id if histories else ""
    return Timeline(
        case_id=case_id,
        runs=[h.run_id for h in histories if h.events],
        strategy=builder.strategy,
        entries=builder.entries,
    )


# ---------------------------------------------------------------- decoding


def decode_payload(payload: Payload) -> Any:
    """A payload written by the JSON/pydantic converter as plain data; None otherwise."""
    encoding = payload.metadata.get("encoding", b"")
    if encoding == b"json/plain":
        try:
            return json.loads(payload.data)
        except ValueError:
            return None
    return None


def _first(payloads: Payloads) -> Any:
    return decode_payload(payloads.payloads[0]) if payloads.payloads else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _details(data: Any, *, skip: frozenset[str] = frozenset({"actor"})) -> dict[str, str]:
    if not isinstance(data, dict):
        return {} if data is None else {"value": _text(data)}
    return {k: _text(v) for k, v in data.items() if k not in skip and v not in (None, "", [])}


def _actor(data: Any) -> Actor | None:
    raw = data.get("actor") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return None
    try:
        return Actor(id=str(raw.get("id")), role=Role(str(raw.get("role"))))
    except ValueError:
        return None


def _stage(value: Any) -> Stage | None:
    try:
        return Stage(str(value))
    except ValueError:
        return None


# ---------------------------------------------------------------- building


class _Builder:
    def __init__(self) -> None:
        self.entries: list[TimelineEntry] = []
        self.strategy: StrategyRef | None = None
        self._stage: Stage | None = None
        self._run = 0
        self._activities: dict[int, str] = {}

    def run(self, run: int, history: WorkflowHistory) -> None:
        self._run = run
        self._activities = {}
        for event in history.events:
            self._event(event)

    def _add(
        self,
        event: HistoryEvent,
        kind: str,
        name: str,
        summary: str,
        *,
        actor: Actor | None = None,
        details: dict[str, str] | None = None,
        time: datetime | None = None,
        stage: Stage | None = None,
    ) -> None:
        self.entries.append(
            TimelineEntry(
                time=time or _time(event.event_time),
                run=self._run,
                event_id=event.event_id,
                stage=stage or self._stage,
                kind=kind,
                name=name,
                actor=actor,
                summary=summary,
                details=details or {},
            )
        )

    def _event(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self._started(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            data = _first(request.input.args)
            actor = _actor(data)
            by = f" by {actor.id} ({actor.role.value})" if actor else ""
            self._add(
                event,
                "update",
                request.input.name,
                f"{request.input.name}{by}",
                actor=actor,
                details=_details(data),
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("failure"):
                self._add(
                    event,
                    "update_failed",
                    "update",
                    f"an accepted update failed: {outcome.failure.message}",
                )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = event.workflow_execution_signaled_event_attributes
            data = _first(attrs.input)
            actor = _actor(data)
            self._add(
                event,
                "signal",
                attrs.signal_name,
                f"signal {attrs.signal_name}" + (f" from {actor.id}" if actor else ""),
                actor=actor,
                details=_details(data),
            )
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self._activity(event)
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            self._activity_failed(event)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            self._timer(event)
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            attrs_fired = event.timer_fired_event_attributes
            self._add(event, "timer_fired", "timer", f"timer {attrs_fired.timer_id} fired")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            attrs_can = event.workflow_execution_continued_as_new_event_attributes
            self._add(
                event,
                "continued_as_new",
                "continue_as_new",
                "history is long: the case continues in a new run",
                details={"new_run_id": attrs_can.new_execution_run_id},
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            result = _first(event.workflow_execution_completed_event_attributes.result)
            stage = _stage(result.get("stage")) if isinstance(result, dict) else None
            reason = result.get("terminal_reason") if isinstance(result, dict) else None
            self._stage = stage or self._stage
            self._add(
                event,
                "run_completed",
                "completed",
                f"case closed: {stage.value if stage else '?'} ({reason or 'no reason'})",
                details={"stage": stage.value if stage else "", "reason": str(reason or "")},
            )
        elif kind in _ENDINGS:
            name, words = _ENDINGS[kind]
            self._add(event, "run_ended", name, f"the case workflow {words}")

    def _timer(self, event: HistoryEvent) -> None:
        timer = event.timer_started_event_attributes
        fires = _time(event.event_time) + timer.start_to_fire_timeout.ToTimedelta()
        self._add(
            event,
            "timer",
            "timer",
            f"timer {timer.timer_id} set for {fires.isoformat()}",
            details={"timer_id": timer.timer_id, "fires_at": fires.isoformat()},
        )

    def _started(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        data = _dict(_first(attrs.input))
        strategy, loan = _dict(data.get("strategy")), _dict(data.get("loan"))
        carried = data.get("carried_state")
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.strategy = StrategyRef(id=str(strategy["id"]), version=int(strategy["version"]))
        ref = f"{strategy.get('id', '?')} v{strategy.get('version', '?')}"
        if isinstance(carried, dict):
            self._stage = _stage(carried.get("stage"))
            summary = f"run {self._run} continues the case (strategy {ref})"
        else:
            self._stage = Stage.REMINDING
            summary = (
                f"case opened for loan {loan.get('loan_id', '?')}: "
                f"{loan.get('amount_overdue', '?')} {loan.get('currency', '')} overdue, "
                f"strategy {ref}"
            )
        self._add(
            event,
            "run_started",
            "started",
            summary,
            details={
                "strategy": ref,
                "loan_id": str(loan.get("loan_id", "")),
                "amount_overdue": str(loan.get("amount_overdue", "")),
                "due_date": str(loan.get("due_date", "")),
                "run_id": attrs.original_execution_run_id,
            },
        )

    def _activity(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        self._activities[event.event_id] = name
        data = _first(attrs.input)
        if name != SYNC_CASE or not isinstance(data, dict):
            details = _details(data)
            target = details.get("purpose") or details.get("kind") or details.get("key", "")
            self._add(event, "activity", name, f"{name} {target}".strip(), details=details)
            return
        for case_event in data.get("events") or []:
            if not isinstance(case_event, dict):
                continue
            stage = _stage(case_event.get("stage"))
            at = case_event.get("at")
            try:
                time = datetime.fromisoformat(str(at)) if at else None
            except ValueError:
                time = None
            details = {k: _text(v) for k, v in (case_event.get("details") or {}).items()}
            details["seq"] = str(case_event.get("seq", ""))
            self._add(
                event,
                "case_event",
                str(case_event.get("kind", "")),
                str(case_event.get("summary", "")),
                actor=_actor(case_event),
                details=details,
                time=time,
                stage=stage,
            )
        self._stage = _stage(data.get("stage")) or self._stage

    def _activity_failed(self, event: HistoryEvent) -> None:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            scheduled, message = failed.scheduled_event_id, failed.failure.message
        else:
            timed_out = event.activity_task_timed_out_event_attributes
            scheduled, message = timed_out.scheduled_event_id, timed_out.failure.message
        name = self._activities.get(scheduled, "activity")
        self._add(
            event,
            "activity_failed",
            name,
            f"{name} failed: {message}",
            details={"scheduled_event_id": str(scheduled)},
        )


_ENDINGS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: ("failed", "failed"),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: ("terminated", "was terminated"),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: ("canceled", "was cancelled"),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: ("timed_out", "timed out"),
}
