"""Record the committed histories the replay tests replay: ``python -m tests.histories.record``
(or ``... record scenario-caps`` for the named ones only).

Runs issue 2's scenario 2 (full lifecycle with an installment plan) and scenario 3 (plan broken,
renegotiated, broken again, escalated, legal), and the caps scenario (two loans of one
borrower: the second waits for the first's SMS; patch ``borrower-caps``) on a fresh
time-skipping server with stand-in activities, and writes each case's history as
``WorkflowHistory.to_json()`` gives it. Record again only on purpose: the committed files are
what running cases look like to the code.
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
# Recorded by the code of the day: the "-lean" files since contacts became local activities
# (patch ``local-contacts``). The files without the suffix were recorded before; they stay, so
# the replay tests keep the runs started then on the path they took.
SCENARIOS = {
    "scenario2-lean": (scenarios.scenario_full_lifecycle, "L-SCENARIO-2"),
    "scenario3-lean": (scenarios.scenario_broken_to_legal, "L-SCENARIO-3"),
    "scenario-caps-lean": (scenarios.scenario_two_loans_one_borrower, "L-SCENARIO-CAPS"),
}


async def record(out_dir: Path = HERE, only: frozenset[str] | None = None) -> dict[str, int]:
    """Run each scenario (or those named ``only``) and write its history; the event count of
    each."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    counts: dict[str, int] = {}
    try:
        async with running_workers(env.client, "record-cases", "record-msg", StandIns()):
            for name, (drive, loan_id) in SCENARIOS.items():
                if only is not None and name not in only:
                    continue
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
        only = frozenset(sys.argv[1:]) or None  # names of scenarios to record; all by default
        for name, count in asyncio.run(record(only=only)).items():
            print(f"{name}.json: {count} history events")
    except Exception as exc:  # the status carries the failure; the message says what
        print(f"recording failed: {exc!r}", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
