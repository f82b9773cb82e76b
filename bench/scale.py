"""K idle cases waiting on timers: start rate, worker RSS, the server's database size per case.

One local dev server persisting to a SQLite file in a temporary directory; a real worker in
this process (real activities, SQLite, the Twilio sandbox). K cases are started through the
client, each then runs its first workflow task, writes its read model and waits on the timer
of its first reminder (D+1). Figures are taken once every case is idle.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench import Figures, rss_bytes, run_figures
from bench.stack import real_stack, wait_synced
from models.case import CaseInput
from models.common import Borrower, Loan, case_id_for
from models.search_attributes import SEARCH_ATTRIBUTES
from models.strategy import load_strategy
from simulation.driver import venv_binary
from workers.converter import DATA_CONVERTER
from workers.temporal import MAX_CACHED_WORKFLOWS
from workflows import localtime
from workflows.case import CollectionCase

BATCH = 50  # starts in flight at once (the dev server, not the time-skipping one)


def _size(path: Path) -> int:
    """A SQLite database's bytes, its write-ahead log included."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def measure(smoke: bool, cases: int | None = None) -> Figures:
    k = cases or (200 if smoke else 20_000)
    checkpoints = sorted({k // 3, 2 * k // 3, k})
    rss_at: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="collectflow-scale-") as tmp:
        server_db = Path(tmp) / "temporal.db"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            data_converter=DATA_CONVERTER,
            search_attributes=SEARCH_ATTRIBUTES,
            dev_server_database_filename=str(server_db),
        )
        try:
            async with real_stack(env.client, Path(tmp), "scale-cases") as stack:
                strategy = load_strategy("default", stack.settings.strategy_dir)
                tz = "Asia/Shanghai"
                due = localtime.local_date(datetime.now(UTC), tz)
                size_before = _size(server_db)
                rss_before = rss_bytes()

                async def start(i: int) -> None:
                    inp = CaseInput(
                        loan=Loan(
                            loan_id=f"SCALE-{i:06d}",
                            currency="CNY",
                            amount_overdue=1530,
                            outstanding_balance=9800,
                            due_date=due,
                        ),
                        borrower=Borrower(
                            id=f"SB-{i:06d}",
                            name="Scale Borrower",
                            phone=f"+86138{i:08d}",
                            timezone=tz,
                            region="scale",
                        ),
                        strategy=strategy,
                        messaging_task_queue=stack.settings.messaging_task_queue,
                    )
                    await env.client.start_workflow(
                        CollectionCase.run,
                        inp,
                        id=case_id_for(inp.loan.loan_id),
                        task_queue="scale-cases",
                    )

                started = time.perf_counter()
                cpu_before = time.process_time()
                start_seconds = 0.0
                begun = 0
                for checkpoint in checkpoints:  # RSS once each third of the cases is idle
                    batch_started = time.perf_counter()
                    for first in range(begun, checkpoint, BATCH):
                        last = min(checkpoint, first + BATCH)
                        await asyncio.gather(*(start(i) for i in range(first, last)))
                    start_seconds += time.perf_counter() - batch_started
                    begun = checkpoint
                    await wait_synced(stack, checkpoint, seconds=3600)
                    await asyncio.sleep(2)  # let the worker settle before reading its RSS
                    rss_at[str(checkpoint)] = round(rss_bytes() / 2**20, 1)
                idle_seconds = time.perf_counter() - started
                cpu_seconds = time.process_time() - cpu_before
                await asyncio.sleep(2)  # let the server persist the last tasks
                rss = rss_bytes()
                size = _size(server_db)
        finally:
            await env.shutdown()
    return {
        "cases": k,
        "start_rate_per_second": round(k / start_seconds, 1),
        "started_and_idle_per_second": round(k / idle_seconds, 1),
        "worker_rss_mb": round(rss / 2**20, 1),
        "worker_rss_growth_mb": round((rss - rss_before) / 2**20, 1),
        "worker_rss_mb_by_cases": rss_at,
        "max_cached_workflows": MAX_CACHED_WORKFLOWS,
        # This process: the worker, its activities and the Twilio sandbox (not the server).
        "worker_cpu_seconds_per_1000_cases_started": round(cpu_seconds / k * 1000, 2),
        "server_db_bytes": size,
        "server_db_bytes_per_case": round((size - size_before) / k, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--cases", type=int, default=None, help="idle cases to start")
    args = parser.parse_args()
    run_figures(lambda: measure(bool(args.smoke), args.cases))


if __name__ == "__main__":
    main()
