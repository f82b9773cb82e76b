"""Auditors (issue 6): timelines across runs, verifiable exports, replay of closed cases.

The lifecycle case runs on a time-skipping server of this module's own: it moves the clock about
four months forward, and the session's ``time_env`` is shared with tests whose cases are due
"today" by the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType, RetryState, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.db import upgrade_database
from audit.export import MANIFEST, TIMELINE, export_case
from audit.replay import query_histories, replay_histories
from audit.timeline import TimelineEntry, build_timeline, fetch_case_histories
from audit.verify import verify_export
from cli.audit import app
from models import activities as act
from models import case as c
from models.common import Actor, Role, Stage, case_id_for
from models.settings import get_settings
from tests import factories
from tests.conftest import TEST_KEYRING_ENV, venv_binary
from tests.histories import scenarios
from tests.stand_ins import StandIns, running_workers
from tests.workflow.helpers import update_view
from workflows.case import CollectionCase

INSTALLMENTS = 12


@dataclass
class Lifecycle:
    client: Client
    address: str
    loan_id: str
    histories: list[WorkflowHistory]
    timeline: list[TimelineEntry]
    final: c.CaseView


@pytest.fixture(scope="module")
async def own_time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def lifecycle(own_time_env: WorkflowEnvironment) -> Lifecycle:
    """Scenario 2 with a 12-installment plan and continue-as-new past 100 events."""
    env = own_time_env
    base = factories.default_strategy()
    strategy = factories.default_strategy(
        continue_as_new_events=100,
        # Twelve installments are under the default 10% floor; 5% lets the plan through.
        negotiation=base.negotiation.model_copy(update={"min_installment_share": Decimal("0.05")}),
    )
    loan_id = f"L-AUDIT-{uuid.uuid4().hex[:6]}"
    queue, messaging = f"tq-{uuid.uuid4().hex[:8]}", f"msg-{uuid.uuid4().hex[:8]}"
    async with running_workers(env.client, queue, messaging, StandIns()):
        started = await scenarios.scenario_full_lifecycle(
            env,
            queue,
            messaging,
            loan_id=loan_id,
            installments=INSTALLMENTS,
            frequency_days=7,
            strategy=strategy,
        )
        final = await scenarios.run_to_end(env, scenarios.latest(env, started))
    histories = await fetch_case_histories(env.client, case_id_for(loan_id))
    return Lifecycle(
        client=env.client,
        address=env.client.service_client.config.target_host,
        loan_id=loan_id,
        histories=histories,
        timeline=build_timeline(histories),
        final=final,
    )


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    monkeypatch.setenv("COLLECTFLOW_ENV", "development")  # the CLI against a local test server
    for name, value in TEST_KEYRING_ENV.items():  # and the test servers' payload keys
        monkeypatch.setenv(name, value)
    yield monkeypatch
    get_settings.cache_clear()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return result.exit_code, f"{result.output}\n{result.exception!r}"
    return result.exit_code, result.output


# ---------------------------------------------------------------- timeline


def test_timeline_follows_every_run(lifecycle: Lifecycle) -> None:
    """Test 1: one timeline over all runs: run starts, continue-as-new, strategy in force."""
    runs = [h.events[0].workflow_execution_started_event_attributes for h in lifecycle.histories]
    assert len(runs) >= 2, "the case should have continued as new at least once"
    assert all(r.continued_execution_run_id for r in runs[1:])
    timeline = lifecycle.timeline
    run_ids = list(dict.fromkeys(e.run_id for e in timeline))
    assert len(run_ids) == len(runs)
    run_index = [run_ids.index(e.run_id) for e in timeline]
    assert run_index == sorted(run_index), "entries go run by run"
    starts = [e for e in timeline if e.kind == "workflow_started"]
    assert len(starts) == len(runs)
    assert {(e.details["strategy_id"], e.details["strategy_version"]) for e in starts} == {
        ("default", "1")
    }
    assert sum(e.kind == "continued_as_new" for e in timeline) == len(runs) - 1
    assert timeline[-1].kind == "workflow_completed"
    assert timeline[-1].details["stage"] == "resolved"


def test_timeline_holds_every_case_event_in_order(lifecycle: Lifecycle) -> None:
    """Test 1: every case event once, in order: seq 1..N, each at or after the one before."""
    events = [e for e in lifecycle.timeline if e.source == "case_event"]
    assert [e.seq for e in events] == list(range(1, lifecycle.final.event_seq + 1))
    times = [e.at for e in events]
    assert times == sorted(times)


def test_timeline_lists_every_contact_decision(lifecycle: Lifecycle) -> None:
    """Test 1: every contact decision (sent, deferred until, skipped) as the case logged it."""
    decisions = [
        (e.details["step"], e.details["outcome"], e.details.get("until"))
        for e in lifecycle.timeline
        if e.kind == "contact" and "outcome" in e.details
    ]
    logged = [
        (r.purpose, r.outcome.value, r.until.isoformat() if r.until else None)
        for r in lifecycle.final.contact_log
    ]
    assert decisions == logged
    outcomes = {outcome for _, outcome, _ in decisions}
    assert "sent" in outcomes
    steps = [step for step, outcome, _ in decisions if outcome == "sent"]
    reminders = [f"reminder-{i}" for i in range(5)]
    installments = [f"plan-1-installment-{i}-reminder" for i in range(1, INSTALLMENTS + 1)]
    assert steps == [
        *reminders,
        "visit-1-proposal",
        "visit-1-reminder",
        *installments,
        "thank-you",
    ]


def test_timeline_lists_every_action_with_its_actor(lifecycle: Lifecycle) -> None:
    """Test 1: every operator action and payment, with actor and role, in order."""
    actions = [
        (e.source, e.kind, e.actor_id, e.actor_role)
        for e in lifecycle.timeline
        if e.source in ("update", "signal")
    ]
    operator = ("op-1", "operator")
    system = ("loan-system", "system")
    payments = [
        ("update", c.UPDATE_PAYMENT, *system) if i % 2 else ("signal", c.SIGNAL_PAYMENT, *system)
        for i in range(1, INSTALLMENTS + 1)
    ]
    assert actions == [
        ("update", c.UPDATE_SCHEDULE_VISIT, *operator),
        ("update", c.UPDATE_RECORD_VISIT, *operator),
        ("update", c.UPDATE_NEGOTIATION, *operator),
        *payments,
    ]
    # Each action also appears as the case events it caused, under the same actor.
    caused = [e for e in lifecycle.timeline if e.source == "case_event" and e.actor_id == "op-1"]
    assert [e.kind for e in caused] == [
        "visit",
        "visit",
        "stage",
        "negotiation",
        "negotiation",
        "stage",
    ]
    paid = [e for e in lifecycle.timeline if e.kind == "payment"]
    assert [e.details["payment_ref"] for e in paid] == [
        f"P-1-{i}" for i in range(1, INSTALLMENTS + 1)
    ]
    assert {(e.actor_id, e.actor_role) for e in paid} == {system}


def test_timeline_lists_every_stage_transition(lifecycle: Lifecycle) -> None:
    """Test 1: every stage transition, in order, matching the case's own stage history."""
    transitions = [e.details["to"] for e in lifecycle.timeline if e.kind in ("stage", "closed")]
    history = [change.stage.value for change in lifecycle.final.stage_history[1:]]
    assert transitions == history == ["waiting", "visit", "negotiating", "follow_up", "resolved"]
    stages = [e.stage for e in lifecycle.timeline if e.source == "case_event"]
    assert stages[0] == Stage.REMINDING.value and stages[-1] == Stage.RESOLVED.value


def test_cli_timeline_as_json(lifecycle: Lifecycle, cli_settings: pytest.MonkeyPatch) -> None:
    """``collectflow audit timeline LOAN_ID --json`` prints the same timeline."""
    cli_settings.setenv("COLLECTFLOW_TEMPORAL_ADDRESS", lifecycle.address)
    status, output = cli("timeline", lifecycle.loan_id, "--json")
    assert status == 0, output
    printed = [TimelineEntry.model_validate(item) for item in json.loads(output)]
    assert printed == lifecycle.timeline
    status, output = cli("timeline", lifecycle.loan_id)
    assert status == 0 and f"{len(lifecycle.timeline)} entries" in output


# ---------------------------------------------------------------- export and verify


def flip_byte(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_export_verifies(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """Test 2: an export verifies; it holds one history per run, the timeline, a manifest."""
    manifest = export_case(lifecycle.histories, lifecycle.timeline, tmp_path)
    names = {path.name for path in tmp_path.iterdir()}
    assert names == {MANIFEST, TIMELINE, *(run.file for run in manifest.runs)}
    assert len(manifest.runs) == len(lifecycle.histories)
    assert len(manifest.timeline_chain) == len(lifecycle.timeline)
    result = verify_export(tmp_path)
    assert result.ok, result.problems
    assert set(result.checked) == names
    assert result.timeline_head == manifest.timeline_chain[-1].hash


def test_one_changed_byte_in_any_file_is_named(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """Test 2: flip one byte anywhere in any exported file: verify names the file and event."""
    export = tmp_path / "export"
    export_case(lifecycle.histories, lifecycle.timeline, export)
    for original in sorted(export.iterdir()):
        size = original.stat().st_size
        for position in (size // 7, size // 3, size // 2, 5 * size // 6):
            copy = tmp_path / f"copy-{original.stem}-{position}"
            shutil.copytree(export, copy)
            flip_byte(copy / original.name, position)
            result = verify_export(copy)
            assert not result.ok
            assert [p.file for p in result.problems] == [original.name], result.problems
            problem = result.problems[0]
            if original.name == TIMELINE:
                assert problem.entry is not None and problem.event_id is not None, problem
                assert f"entry {problem.entry} (run " in problem.message
            elif original.name.startswith("history-"):
                assert problem.event_id is not None, problem
                assert f"event {problem.event_id}" in problem.message


def test_cli_export_and_verify(
    lifecycle: Lifecycle, tmp_path: Path, cli_settings: pytest.MonkeyPatch
) -> None:
    """``audit export`` signs and records the head, then ``audit verify`` with the public key
    and the database passes; after an edit verify exits 1 naming it."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    upgrade_database(database_url)
    cli_settings.setenv("COLLECTFLOW_TEMPORAL_ADDRESS", lifecycle.address)
    cli_settings.setenv("COLLECTFLOW_DATABASE_URL", database_url)
    cli_settings.setenv("COLLECTFLOW_DATA_DIR", str(tmp_path / "data"))  # the dev key is made here
    bundle = tmp_path / "bundle"
    status, output = cli("export", lifecycle.loan_id, "--out", str(bundle))
    assert status == 0, output
    public = tmp_path / "data" / "export-signing-key.pem.pub"
    checks = ("--public-key", str(public), "--database-url", database_url)
    status, output = cli("verify", str(bundle), *checks)
    assert status == 0 and "OK" in output and "signature valid, head recorded" in output, output
    timeline = bundle / TIMELINE
    flip_byte(timeline, timeline.stat().st_size // 2)
    status, output = cli("verify", str(bundle), *checks)
    assert status == 1
    assert "timeline.json: entry " in output and "history event " in output


def test_cli_replays_one_case(lifecycle: Lifecycle, cli_settings: pytest.MonkeyPatch) -> None:
    """``audit replay LOAN_ID`` replays every run of the case against the current code."""
    cli_settings.setenv("COLLECTFLOW_TEMPORAL_ADDRESS", lifecycle.address)
    status, output = cli("replay", lifecycle.loan_id)
    runs = len(lifecycle.histories)
    assert status == 0, output
    assert f"replayed {runs}, passed {runs}, failed 0" in output


# ---------------------------------------------------------------- batch replay (dev server)

BATCH = 50


async def test_batch_replay_of_closed_cases(
    dev_env: WorkflowEnvironment, cli_settings: pytest.MonkeyPatch
) -> None:
    """Test 4: 50 cases closed on the real dev server replay by visibility query: 50 of 50."""
    client = dev_env.client
    queue, messaging = f"tq-{uuid.uuid4().hex[:8]}", f"msg-{uuid.uuid4().hex[:8]}"
    strategy = factories.seconds_strategy(day_seconds=1)
    admin = Actor(id="admin-1", role=Role.ADMIN)
    async with running_workers(client, queue, messaging, StandIns()):
        for _ in range(BATCH):  # one at a time, each to its end
            inp = factories.case_input(
                strategy=strategy,
                the_borrower=factories.borrower(timezone=factories.open_window_zone()),
                messaging_queue=messaging,
                search_attributes=True,
            )
            handle = await client.start_workflow(
                CollectionCase.run, inp, id=case_id_for(inp.loan.loan_id), task_queue=queue
            )
            await update_view(
                handle,
                c.UPDATE_CLOSE,
                c.CloseInput(reason=c.CloseReason.RECALLED, notes="lender recall", actor=admin),
            )
            assert (await handle.result()).stage is Stage.CLOSED
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'"
    for _ in range(100):  # visibility catches up within moments
        if (await client.count_workflows(query)).count == BATCH:
            break
        await dev_env.sleep(0.1)
    summary = await replay_histories(
        query_histories(client, query), converter=client.data_converter
    )
    assert summary.failed == []
    assert (summary.replayed, summary.passed) == (BATCH, BATCH)

    cli_settings.setenv("COLLECTFLOW_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    # The command runs its own event loop: give it a thread of its own.
    status, output = await asyncio.to_thread(cli, "replay", "--query", query)
    assert status == 0, output
    assert f"replayed {BATCH}, passed {BATCH}, failed 0" in output


# ---------------------------------------------------------------- failures (pure)


def test_timeline_names_failures() -> None:
    """A failed activity, a failed workflow task and an accepted update that then failed each
    show in the timeline, with run numbers; routine UNHANDLED_COMMAND task failures do not."""
    payloads = pydantic_data_converter.payload_converter
    now = Timestamp(seconds=1_800_000_000)
    events = [HistoryEvent(event_id=i, event_time=now) for i in range(1, 8)]
    started = events[0].workflow_execution_started_event_attributes
    started.original_execution_run_id = "run-1"
    started.input.payloads.extend(payloads.to_payloads([factories.case_input()]))
    events[0].event_type = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    scheduled = events[1].activity_task_scheduled_event_attributes
    scheduled.activity_type.name = act.SEND_SMS
    failed = events[2].activity_task_failed_event_attributes
    failed.scheduled_event_id = 2
    failed.failure.message = "twilio said no"
    failed.failure.application_failure_info.type = "ContactRejected"
    failed.retry_state = RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    task = events[3].workflow_task_failed_event_attributes
    task.cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
    task.failure.message = "nondeterminism"
    routine = events[4].workflow_task_failed_event_attributes
    routine.cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
    accepted = events[5].workflow_execution_update_accepted_event_attributes
    accepted.accepted_request.meta.update_id = "u-1"
    accepted.accepted_request.input.name = c.UPDATE_SCHEDULE_VISIT
    actor = Actor(id="op-1", role=Role.OPERATOR)
    visit = {"at": "2026-12-01T10:00:00+08:00", "actor": actor.model_dump(mode="json")}
    accepted.accepted_request.input.args.payloads.extend(payloads.to_payloads([visit]))
    done = events[6].workflow_execution_update_completed_event_attributes
    done.meta.update_id = "u-1"
    done.accepted_event_id = 6
    done.outcome.failure.message = "no visit is being arranged"

    history = WorkflowHistory("case-L-F", events)
    entries = build_timeline([history, WorkflowHistory("case-L-F", [])])
    kinds = [(e.run, e.source, e.kind) for e in entries]
    assert kinds == [
        (1, "workflow", "workflow_started"),
        (1, "activity", "activity_failed"),
        (1, "workflow", "workflow_task_failed"),
        (1, "update", c.UPDATE_SCHEDULE_VISIT),
        (1, "update", "update_failed"),
    ]
    activity, task_failure, _, update_failed = entries[1:]
    assert activity.details["activity"] == act.SEND_SMS
    assert activity.details["failure_type"] == "ContactRejected"
    assert activity.details["retry_state"] == "non_retryable_failure"
    assert task_failure.details["cause"] == "non_deterministic_error"
    assert update_failed.details["update"] == c.UPDATE_SCHEDULE_VISIT
    assert (update_failed.actor_id, update_failed.actor_role) == ("op-1", "operator")
    assert "no visit is being arranged" in update_failed.summary
