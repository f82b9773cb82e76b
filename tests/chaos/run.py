"""The chaos run: seeded borrowers on the whole stack while the worker is SIGKILLed, Temporal is
stopped and restarted on its database, the API restarts and the Twilio sandbox fails 10% of
requests with a 5xx and times out 2%. Prints one JSON line per run (seeds seed..seed+runs-1),
then one summary line with the violations per seed.

    python -m tests.chaos.run --cases 200 --kills 10 --seed 1 --runs 10   # make chaos ARGS=...
    python -m tests.chaos.run --db postgres      # the app database on COLLECTFLOW_TEST_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import tempfile
import time
import traceback
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from tests.chaos import checks
from tests.chaos.database import read_db, reset_postgres
from tests.chaos.driver import TERMINAL, Driver
from tests.chaos.scenario import Script, make_scripts
from tests.chaos.stack import Stack, exit_now

OPEN_CONCURRENCY = 8
LAST_STEP_DAY = 9
CLIENT_TIMEOUT = 2.0  # the worker's Twilio timeout in the run
# The worker sweeps every SWEEP_EVERY s for rows untouched for settle + timeout + ~13 s
# (workers.run.sweep_forever): 30 s with the default settle of 15 s.
SWEEP_EVERY = 10.0
SWEEP_WAIT = 120.0
RUNS_CLOSE_WAIT = 120.0  # a thank-you held up by the sandbox's faults goes out within it


@dataclass(frozen=True)
class ChaosConfig:
    cases: int = 200
    kills: int = 10
    server_restarts: int = 1
    api_restarts: int = 1
    seed: int = 1
    day_seconds: int = 2
    error_rate_5xx: float = 0.10
    timeout_rate: float = 0.02
    settle_seconds: float = 600.0
    data_dir: Path | None = None  # kept after the run when given; a temporary one otherwise
    # None: SQLite in the data directory; else this database, emptied before the run.
    database_url: str | None = None
    kinds: frozenset[str] | None = None  # None: the whole mix (scenario.KINDS)


def fault_plan(config: ChaosConfig, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds after the start, what) for every worker kill and server and API restart."""
    active = max(20.0, config.cases / 8) + LAST_STEP_DAY * config.day_seconds
    events = [(rng.uniform(3, active), "kill_worker") for _ in range(config.kills)]
    events += [(rng.uniform(5, active), "restart_temporal") for _ in range(config.server_restarts)]
    events += [(rng.uniform(5, active), "restart_api") for _ in range(config.api_restarts)]
    return sorted(events)


def _apply(stack: Stack, what: str) -> None:
    if what == "kill_worker":
        stack.kill_worker()
        stack.start_worker()
    elif what == "restart_temporal":
        stack.stop_temporal()
        time.sleep(2)  # down long enough for clients to notice
        stack.start_temporal()
    elif what == "restart_api":
        stack.stop_api()
        stack.start_api()


async def _faults(
    stack: Stack, plan: list[tuple[float, str]], t0: float, done: Counter[str]
) -> None:
    for at, what in plan:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.to_thread(_apply, stack, what)
        done[what] += 1


async def _drive(driver: Driver, scripts: list[Script]) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    plays: list[asyncio.Task[None]] = []

    async def open_one(script: Script) -> None:
        async with gate:
            opened = await driver.open_case(script)
        plays.append(asyncio.create_task(driver.play(script, opened)))

    await asyncio.gather(*(open_one(s) for s in scripts))
    await asyncio.gather(*plays)


async def _converged(stack: Stack, states: dict[str, dict[str, Any]], until: float) -> bool:
    """The projection in the app database catches up with the workflows' final states."""
    want = {f"case-{k}": (v["stage"], Decimal(v["balance"])) for k, v in states.items()}
    while True:
        rows = (await asyncio.to_thread(read_db, stack.database_url, ("cases",)))["cases"]
        have = {r["case_id"]: (str(r["stage"]), checks.money(r["balance"])) for r in rows}
        if all(have.get(k) == v for k, v in want.items()) or time.monotonic() > until:
            return all(have.get(k) == v for k, v in want.items())
        await asyncio.sleep(1.0)


async def _runs_closed(stack: Stack, scripts: list[Script], until: float) -> None:
    """Wait (bounded) until no case's latest run is still running; the checks say the rest."""
    client = await Client.connect(stack.plan.temporal_address, namespace=stack.plan.namespace)
    pending = {s.case_id for s in scripts}
    while pending and time.monotonic() < until:
        for case_id in sorted(pending):
            description = await client.get_workflow_handle(case_id).describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                pending.discard(case_id)
        if pending:
            await asyncio.sleep(1.0)


def _printable(config: ChaosConfig) -> dict[str, Any]:
    """The config as JSON, with a database password masked."""
    shown: dict[str, Any] = {}
    for name, value in asdict(config).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, frozenset):
            value = sorted(value)
        elif name == "database_url" and value:
            value = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", value)
        shown[name] = value
    return shown


async def _swept(stack: Stack, until: float) -> int:
    """Wait for the worker's reconciliation sweep to judge every attempt a kill left
    ``recorded``; the number still left when the time is up."""
    while True:
        rows = (await asyncio.to_thread(read_db, stack.database_url, ("attempts",)))["attempts"]
        left = sum(1 for r in rows if str(r["status"]) == "recorded")
        if left == 0 or time.monotonic() > until:
            return left
        await asyncio.sleep(2.0)


async def run_chaos(config: ChaosConfig, stack: Stack) -> dict[str, Any]:
    rng = random.Random(config.seed)
    scripts = make_scripts(config.cases, config.seed, uuid.uuid4().hex[:6], only=config.kinds)
    plan = fault_plan(config, rng)
    driver = Driver(stack.api_url, stack.sandbox_url, config.day_seconds)
    done: Counter[str] = Counter()
    started = time.monotonic()
    try:
        faults = {
            "error_rate_5xx": config.error_rate_5xx,
            "timeout_rate": config.timeout_rate,
            "seed": config.seed,
            # Longer than the worker's Twilio timeout: the client gives up, the message exists.
            "timeout_seconds": CLIENT_TIMEOUT + 3,
            "timeout_commits": True,
        }
        (await driver.sandbox.post("/sandbox/faults", json=faults)).raise_for_status()
        await asyncio.gather(_drive(driver, scripts), _faults(stack, plan, started, done))
        driven = time.monotonic() - started
        until = time.monotonic() + config.settle_seconds
        states = {s.loan_id: await driver.wait_terminal(s.loan_id, until) for s in scripts}
        # A case's run ends after its last message (a thank-you) is out: read the outbox then.
        await _runs_closed(stack, scripts, time.monotonic() + RUNS_CLOSE_WAIT)
        converged = await _converged(stack, states, time.monotonic() + 60)
        still_recorded = await _swept(stack, time.monotonic() + SWEEP_WAIT)
        outbox = (await driver.sandbox.get("/sandbox/outbox")).json()
        histories = {
            loan_id: await driver.raw_history(loan_id)
            for loan_id in checks.in_pause(checks.outbox_items(outbox), scripts)
        }
    finally:
        await driver.aclose()
    items = checks.outbox_items(outbox)
    db = await asyncio.to_thread(read_db, stack.database_url)
    ledger, unsent_unknown = checks.ledger_matches_provider(items, db["attempts"])
    pauses, apart = checks.no_contact_in_pauses(
        items, scripts, histories, checks.receipts(db["attempts"])
    )
    not_terminal = [k for k, v in states.items() if v["stage"] not in TERMINAL]
    results = {
        "end_state_as_expected": checks.end_states(scripts, states).report(
            compared_with="the seeded behaviour model's deterministic end state per case"
        ),
        "one_send_per_key_at_the_provider": checks.one_send_per_key(items).report(
            counted_from="the sandbox's sends grouped by the ledger key on their StatusCallback"
        ),
        "ledger_says_what_was_sent": ledger.report(unknown_rows_with_no_send=unsent_unknown),
        "contact_goes_to_the_current_phone": checks.current_phone_only(items, scripts).report(
            phones_changed=sum(s.phone_changed_at is not None for s in scripts)
        ),
        "reopened_case_contacts_again": checks.reopened_contacted(items, scripts).report(
            reopened=sum(s.reopened for s in scripts)
        ),
        "payments_recorded_once_balances_agree": checks.payments_once(scripts, states, db).report(
            projection_converged=converged
        ),
        "contact_within_allowed_hours": checks.contact_hours(
            items, {p: s.zone for s in scripts for p in s.phones}
        ).report(),
        "no_sms_after_opt_out": checks.no_sms_after_opt_out(items, scripts).report(
            opted_out=sum(s.opted_out_at is not None for s in scripts)
        ),
        "no_contact_during_pause": pauses.report(
            paused_cases=sum(bool(s.pauses) for s in scripts),
            sent_in_pause_but_not_counted=apart,
        ),
    }
    refused = [f"{s.loan_id}: {r}" for s in scripts for r in s.refused]
    ok = (
        all(r["violations"] == 0 for r in results.values())
        and not not_terminal
        and driver.statuses["500"] == 0
        and converged
    )
    return {
        "ok": ok,
        "config": _printable(config),
        "cases": len(scripts),
        "kinds": dict(Counter(s.kind for s in scripts)),
        "faults_done": dict(done),
        "fault_plan_s": [(round(t, 1), w) for t, w in plan],
        "seconds": {"driving": round(driven, 1), "total": round(time.monotonic() - started, 1)},
        "stages": dict(Counter(v["stage"] for v in states.values())),
        "not_terminal": not_terminal[:10],
        "outbox": {"messages": len(outbox["messages"]), "calls": len(outbox["calls"])},
        "ledger": dict(Counter(str(r["status"]) for r in db["attempts"])),
        "ledger_recorded_after_sweep_wait": still_recorded,
        "api_answers": dict(driver.statuses),
        "api_500s": driver.statuses["500"],
        "api_other_5xx": dict(driver.server_errors.most_common(5)),
        "retries": driver.retries,
        "refused_actions": refused[:10],
        "invariants": results,
    }


def chaos(config: ChaosConfig) -> dict[str, Any]:
    """Start the stack, run, stop everything (also on failure); the report."""
    data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="collectflow-chaos-"))
    if config.database_url is not None:
        reset_postgres(config.database_url)
    stack = Stack(
        data_dir / "stack",
        day_seconds=config.day_seconds,
        env={
            "COLLECTFLOW_TWILIO_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
            "COLLECTFLOW_CONTACT_SWEEP_EVERY_SECONDS": str(SWEEP_EVERY),
        },
        database_url=config.database_url,
    )
    try:
        stack.start()
        report = asyncio.run(run_chaos(config, stack))
    finally:
        stack.stop()
        if config.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    report["orphans"] = stack.pids()
    return report


def summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per seed: ok, and each invariant's violations; then the totals."""
    per_seed = {
        str(r["config"]["seed"]): {
            "ok": r["ok"],
            **{name: v["violations"] for name, v in r["invariants"].items()},
        }
        for r in reports
    }
    total = sum(v["violations"] for r in reports for v in r["invariants"].values())
    return {
        "summary": True,
        "runs": len(reports),
        "ok_runs": sum(bool(r["ok"]) for r in reports),
        "violations_total": total,
        "per_seed": per_seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = ChaosConfig()
    parser.add_argument("--cases", type=int, default=defaults.cases)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--server-restarts", type=int, default=defaults.server_restarts)
    parser.add_argument("--api-restarts", type=int, default=defaults.api_restarts)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--runs", type=int, default=1, help="seeds seed .. seed+runs-1")
    parser.add_argument("--day-seconds", type=int, default=defaults.day_seconds)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the run's files here")
    parser.add_argument(
        "--kinds", default=None, help="comma-separated borrower kinds (default: all of them)"
    )
    args = parser.parse_args()
    database_url = None
    if args.db == "postgres":
        database_url = os.environ.get("COLLECTFLOW_TEST_POSTGRES_URL")
        if not database_url:
            parser.error(
                "--db postgres needs COLLECTFLOW_TEST_POSTGRES_URL (postgresql+asyncpg://...)"
            )
    status = 1
    try:
        reports = []
        for seed in range(args.seed, args.seed + args.runs):
            config = ChaosConfig(
                cases=args.cases,
                kills=args.kills,
                server_restarts=args.server_restarts,
                api_restarts=args.api_restarts,
                seed=seed,
                day_seconds=args.day_seconds,
                data_dir=args.data_dir / f"seed-{seed}" if args.data_dir else None,
                database_url=database_url,
                kinds=frozenset(args.kinds.split(",")) if args.kinds else None,
            )
            report = chaos(config)
            reports.append(report)
            print(json.dumps(report, default=str), flush=True)
        print(json.dumps(summary(reports), default=str), flush=True)
        status = 0 if all(r["ok"] for r in reports) else 1
    except BaseException:  # exit_now skips the interpreter's own traceback printing
        traceback.print_exc()
        raise
    finally:
        exit_now(status)


if __name__ == "__main__":
    main()
