"""History events and activities per case for each simulated behaviour.

Each behaviour runs alone for a few loans through the simulation (the real workflow and
activities on the time-skipping server); afterwards every run of every case is read back:
events are what Temporal Cloud bills as actions' footprint, activities the side effects.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from bench import Figures, run_main
from simulation.behaviour import Behaviour
from simulation.driver import run_simulation
from simulation.model import CaseRecord, SimConfig

# The history events that Temporal Cloud bills as actions (its pricing page): a run started
# (continue-as-new included), an activity or a timer started, a signal, an update accepted, a
# search-attribute upsert, a marker (local activities, patches). Queries are billed too but
# leave no event; they are counted in the throughput benchmark instead.
BILLED = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_MARKER_RECORDED,
    }
)


async def case_runs(env: WorkflowEnvironment, rec: CaseRecord) -> list[WorkflowHistory]:
    """Every run of the case, following continue-as-new from its first run."""
    runs: list[WorkflowHistory] = []
    run_id = rec.first_run_id
    while run_id:
        history = await env.client.get_workflow_handle(rec.case_id, run_id=run_id).fetch_history()
        runs.append(history)
        last = history.events[-1]
        run_id = None
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


async def measure(smoke: bool) -> Figures:
    per_behaviour = 2 if smoke else 10
    days = 60 if smoke else 180
    figures: Figures = {"loans_per_behaviour": per_behaviour, "days": days, "behaviours": {}}
    largest = 0
    for behaviour in Behaviour:
        counts: list[tuple[int, int, int, int, int]] = []

        async def read(
            env: WorkflowEnvironment,
            records: list[CaseRecord],
            counts: list[tuple[int, int, int, int, int]] = counts,
        ) -> None:
            for rec in records:  # one at a time (FIELD-NOTES: time-skipping hazards)
                runs = await case_runs(env, rec)
                events = sum(len(h.events) for h in runs)
                scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                activities = sum(1 for h in runs for e in h.events if e.event_type == scheduled)
                size = sum(e.ByteSize() for h in runs for e in h.events)
                billed = sum(1 for h in runs for e in h.events if e.event_type in BILLED)
                longest = max(len(h.events) for h in runs)
                counts.append((events, activities, longest, size, billed))

        config = SimConfig(loans=per_behaviour, days=days, seed=11, mix={behaviour: 1.0})
        await run_simulation(config, after=read)
        n = len(counts) or 1
        largest = max([largest, *(c[2] for c in counts)])
        figures["behaviours"][behaviour.value] = {
            "events_per_case": round(sum(c[0] for c in counts) / n, 1),
            "activities_per_case": round(sum(c[1] for c in counts) / n, 1),
            "max_events_single_run": max((c[2] for c in counts), default=0),
            # The history's own bytes (protobuf), what the server stores and replays.
            "history_bytes_per_case": round(sum(c[3] for c in counts) / n),
            "billed_actions_per_case": round(sum(c[4] for c in counts) / n, 1),
        }
    figures["largest_run_events"] = largest
    return figures


if __name__ == "__main__":
    run_main(measure, __doc__ or "")
