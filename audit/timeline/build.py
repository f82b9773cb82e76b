"""The timeline of a case from its runs' histories, and fetching those histories."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter

from audit.decode import decoded_history
from audit.timeline.entry import TimelineEntry
from audit.timeline.lifecycle import LifecycleReader
from workers.converter import DATA_CONVERTER

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
    histories: Sequence[WorkflowHistory], converter: DataConverter = DATA_CONVERTER
) -> list[TimelineEntry]:
    """The timeline of one case from its runs' histories, given first run first."""
    reader = LifecycleReader(converter)
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
