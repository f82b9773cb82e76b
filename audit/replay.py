"""Replay recorded case histories against the current workflow code.

A replay re-runs the workflow code over a recorded history; a change that would make running
cases take a different path (a new activity, a timer moved, a branch reordered) fails with a
non-determinism error that names the history event where code and history part ways. Uses the
worker's own sandbox configuration and data converter, so a replay decodes what the worker wrote.

Sources of histories: one case (all its runs), an export directory, committed history files, or
a visibility query.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from audit.export import MANIFEST
from audit.timeline import fetch_case_histories, history_run_id
from audit.verify import load_export
from models.case import CaseInput
from models.common import case_id_for
from workers.converter import DATA_CONVERTER
from workers.runner import workflow_runner
from workflows.case import CollectionCase

# Core's non-determinism messages name the event: "... HistoryEvent(id: 5, ActivityTaskScheduled)".
_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)|\b[Ee]vent (?:id )?(\d+)")
_INNER_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


class ReplayFailure(BaseModel):
    workflow_id: str
    run_id: str
    error: str = Field(description="exception type")
    message: str
    event_id: int | None = Field(default=None, description="the first non-deterministic event")
    event_type: str | None = None

    def describe(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "unknown event"
        if self.event_type:
            where += f" ({self.event_type})"
        return f"{self.workflow_id} run {self.run_id}: {self.error} at {where}: {self.message}"


class ReplaySummary(BaseModel):
    replayed: int = 0
    passed: int = 0
    failed: list[ReplayFailure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


ProgressCallback = Callable[[WorkflowHistory, ReplayFailure | None], None]


def _describe_event(event: HistoryEvent) -> str:
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.HasField("activity_task_scheduled_event_attributes"):
        name += f" (activity {event.activity_task_scheduled_event_attributes.activity_type.name})"
    elif event.HasField("timer_started_event_attributes"):
        name += f" (timer {event.timer_started_event_attributes.timer_id})"
    elif event.HasField("workflow_execution_signaled_event_attributes"):
        name += f" (signal {event.workflow_execution_signaled_event_attributes.signal_name})"
    return name


def _failure(history: WorkflowHistory, exc: Exception) -> ReplayFailure:
    text = str(exc)
    inner = _INNER_MESSAGE.search(text)
    message = inner.group(1) if inner else text
    event_id = event_type = None
    if match := _EVENT_ID.search(text):
        event_id = int(match.group(1) or match.group(2))
        event = next((e for e in history.events if e.event_id == event_id), None)
        event_type = _describe_event(event) if event is not None else None
    return ReplayFailure(
        workflow_id=history.workflow_id,
        run_id=history_run_id(history),
        error=type(exc).__name__,
        message=message,
        event_id=event_id,
        event_type=event_type,
    )


async def _aiter(
    histories: Iterable[WorkflowHistory] | AsyncIterable[WorkflowHistory],
) -> AsyncIterator[WorkflowHistory]:
    if isinstance(histories, AsyncIterable):
        async for history in histories:
            yield history
    else:
        for history in histories:
            yield history


async def replay_histories(
    histories: Iterable[WorkflowHistory] | AsyncIterable[WorkflowHistory],
    *,
    workflows: Sequence[type] = (CollectionCase,),
    on_progress: ProgressCallback | None = None,
    converter: DataConverter = DATA_CONVERTER,
) -> ReplaySummary:
    """Replay each history; never raises for a replay failure, reports it in the summary.
    ``converter``: the workers' (with the payload codec); plain payloads pass it unchanged."""
    replayer = Replayer(
        workflows=list(workflows),
        data_converter=converter,
        workflow_runner=workflow_runner(),
    )
    summary = ReplaySummary()
    # The iterator form of ``replay_workflows(..., raise_on_replay_failure=False)``: one result
    # per history as it finishes, so progress can be shown.
    async with replayer.workflow_replay_iterator(_aiter(histories)) as results:
        async for result in results:
            summary.replayed += 1
            failure = None
            if result.replay_failure is not None:
                failure = _failure(result.history, result.replay_failure)
                summary.failed.append(failure)
            else:
                summary.passed += 1
            if on_progress is not None:
                on_progress(result.history, failure)
    return summary


# ---------------------------------------------------------------- sources


async def case_histories(client: Client, loan_id: str) -> list[WorkflowHistory]:
    """Every run of one loan's case."""
    return await fetch_case_histories(client, case_id_for(loan_id))


def export_histories(directory: Path) -> list[WorkflowHistory]:
    """The runs stored in an export directory (see ``audit.export``)."""
    return load_export(directory)[1]


def query_histories(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    """Every run matching a visibility query, e.g. ``CloseTime > '2026-01-01T00:00:00Z'``."""
    return client.list_workflows(query).map_histories()


def history_from_file(path: Path, workflow_id: str | None = None) -> WorkflowHistory:
    """A history saved with ``WorkflowHistory.to_json()`` (or by the Temporal CLI or UI).

    The JSON does not carry the workflow id on every server; when it is not given, it is read
    from the start event, else derived from the case input's loan id.
    """
    history = WorkflowHistory.from_json(workflow_id or "", path.read_text("utf-8"))
    if workflow_id:
        return history
    started = history.events[0].workflow_execution_started_event_attributes
    found = started.workflow_id
    if not found:
        payloads = started.input.payloads
        inp = DATA_CONVERTER.payload_converter.from_payloads(payloads, [CaseInput])[0]
        found = case_id_for(inp.loan.loan_id)
    return WorkflowHistory(found, history.events)


def directory_histories(directory: Path) -> list[WorkflowHistory]:
    """An export directory's runs (it has a manifest), else every ``*.json`` history in it."""
    if (directory / MANIFEST).is_file():
        return export_histories(directory)
    return [history_from_file(path) for path in sorted(directory.glob("*.json"))]
