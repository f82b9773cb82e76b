"""Record the committed histories the replay tests replay: ``python -m tests.histories.record``.

Runs issue 2's scenario 2 (full lifecycle with an installment plan) and scenario 3 (plan broken,
renegotiated, broken again, escalated, legal) on a fresh time-skipping server with stand-in
activities, and writes each case's history as ``WorkflowHistory.to_json()`` gives it. Record
again only on purpose: the committed files are what running cases look like to the code.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.conftest import venv_binary
from tests.histories import scenarios
from tests.stand_ins import StandIns, running_workers

HERE = Path(__file__).parent
SCENARIOS = {
    "scenario2": (scenarios.scenario_full_lifecycle, "L-SCENARIO-2"),
    "scenario3": (scenarios.scenario_broken_to_legal, "L-SCENARIO-3"),
}


async def record(out_dir: Path = HERE) -> dict[str, int]:
    """Run each scenario and write its history; the event count of each."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    counts: dict[str, int] = {}
    try:
        async with running_workers(env.client, "record-cases", "record-msg", StandIns()):
            for name, (drive, loan_id) in SCENARIOS.items():
                started = await drive(env, "record-cases", "record-msg", loan_id=loan_id)
                history = await started.fetch_history()
                (out_dir / f"{name}.json").write_text(history.to_json() + "\n", "utf-8")
                counts[name] = len(history.events)
    finally:
        await env.shutdown()
    return counts


def main() -> None:
    """Leave with ``os._exit`` (temporalio/sdk-python#300; see tests/run_pytest.py)."""
    status = 0
    try:
        for name, count in asyncio.run(record()).items():
            print(f"{name}.json: {count} history events")
    except Exception as exc:  # the status carries the failure; the message says what
        print(f"recording failed: {exc!r}", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
