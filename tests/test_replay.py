"""Replay of the committed histories: a change that would break running cases fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from typer.testing import CliRunner

from audit.replay import directory_histories, history_from_file, replay_histories
from audit.timeline import history_run_id
from cli.audit import app
from models.settings import get_settings
from tests.altered_case import TimerFirstCase

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def test_the_scenarios_are_committed() -> None:
    """Issue 2 scenarios 2 and 3 are recorded (``python -m tests.histories.record``)."""
    assert {"scenario2.json", "scenario3.json"} <= {path.name for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_committed_history_replays(path: Path) -> None:
    """The current CollectionCase code takes exactly the recorded path."""
    history = history_from_file(path)
    summary = await replay_histories([history])
    assert summary.failed == []
    assert (summary.replayed, summary.passed) == (1, 1)


async def test_a_non_deterministic_change_is_caught_and_named() -> None:
    """An altered class registered as "CollectionCase" fails replay at the event it breaks."""
    histories = directory_histories(HISTORIES)
    summary = await replay_histories(histories, workflows=[TimerFirstCase])
    assert summary.replayed == len(histories) and summary.passed == 0
    by_run = {history_run_id(h): h for h in histories}
    for failure in summary.failed:
        assert failure.error == "NondeterminismError"
        assert "Nondeterminism" in failure.message
        history = by_run[failure.run_id]
        if (local := _first_local_send(history)) is not None:
            # A lean run sent it as a local activity: the timer stands where its marker is.
            assert f"LocalActivity({local})" in failure.message, failure.message
            continue
        # The recorded case scheduled its first SMS; the altered code starts a timer there.
        sent = _first_send(history)
        assert failure.event_id == sent
        assert failure.event_type == "ACTIVITY_TASK_SCHEDULED (activity send_sms)"
        assert f"event {sent} (ACTIVITY_TASK_SCHEDULED" in failure.describe()


def _first_send(history: WorkflowHistory) -> int:
    return next(
        e.event_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "send_sms"
    )


def _first_local_send(history: WorkflowHistory) -> int | None:
    """The sequence number of the first SMS sent as a local activity, if the run did so."""
    for e in history.events:
        if not e.HasField("marker_recorded_event_attributes"):
            continue
        data = e.marker_recorded_event_attributes.details.get("data")
        if data is None or not data.payloads:
            continue
        marker = json.loads(data.payloads[0].data)
        if marker.get("activity_type") == "send_sms":
            return int(marker["seq"])
    return None


def test_cli_replays_a_directory_of_histories() -> None:
    """``collectflow audit replay --dir`` replays the folder and exits 0."""
    get_settings.cache_clear()  # the replay reads the payload keys from the environment below
    try:
        env = {"COLLECTFLOW_ENV": "development"}
        result = CliRunner().invoke(app, ["replay", "--dir", str(HISTORIES)], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"replayed {len(FILES)}, passed {len(FILES)}, failed 0" in result.output
