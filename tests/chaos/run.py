"""The chaos run: seeded borrowers on the whole stack while the worker is SIGKILLed, Temporal is
stopped and restarted on its database, the API restarts and the Twilio sandbox fails 10% of
requests with a 5xx and times out 2%. Prints one JSON object of figures and invariant counts.

    python -m tests.chaos.run --cases 200 --kills 10 --seed 1     # make chaos
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.chaos import checks
from tests.chaos.driver import TERMINAL, Driver
from tests.chaos.scenario import Script, make_scripts
from tests.chaos.stack import Stack, exit_now

OPEN_CONCURRENCY = 8
LAST_STEP_DAY = 9
CLIENT_TIMEOUT = 2.0  # the worker's Twilio timeout in the run


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
        with sqlite3.connect(stack.database_path) as db:
            rows = db.execute("SELECT case_id, stage, balance FROM cases").fetchall()
        have = {r[0]: (str(r[1]), checks.cents(r[2])) for r in rows}
        if all(have.get(k) == v for k, v in want.items()) or time.monotonic() > until:
            return all(have.get(k) == v for k, v in want.items())
        await asyncio.sleep(1.0)


async def run_chaos(config: ChaosConfig, stack: Stack) -> dict[str, Any]:
    rng = random.Random(config.seed)
    scripts = make_scripts(config.cases, config.seed, uuid.uuid4().hex[:6])
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
        converged = await _converged(stack, states, time.monotonic() + 60)
        outbox = (await driver.sandbox.get("/sandbox/outbox")).json()
        histories = {
            loan_id: await driver.raw_history(loan_id)
            for loan_id in checks.in_pause(checks.outbox_items(outbox), scripts)
        }
    finally:
        await driver.aclose()
    items = checks.outbox_items(outbox)
    db = checks.read_db(stack.database_path)
    keys, unmapped = checks.one_send_per_key(items, db["attempts"])
    pauses, apart = checks.no_contact_in_pauses(
        items, scripts, histories, checks.receipts(db["attempts"])
    )
    not_terminal = [k for k, v in states.items() if v["stage"] not in TERMINAL]
    results = {
        "end_state_as_expected": checks.end_states(scripts, states).report(
            compared_with="the seeded behaviour model's deterministic end state per case"
        ),
        "one_send_per_idempotency_key": keys.report(sends_without_ledger_sid=unmapped),
        "payments_recorded_once_balances_agree": checks.payments_once(scripts, states, db).report(
            projection_converged=converged
        ),
        "contact_within_allowed_hours": checks.contact_hours(
            items, {s.phone: s.zone for s in scripts}
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
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "cases": len(scripts),
        "kinds": dict(Counter(s.kind for s in scripts)),
        "faults_done": dict(done),
        "fault_plan_s": [(round(t, 1), w) for t, w in plan],
        "seconds": {"driving": round(driven, 1), "total": round(time.monotonic() - started, 1)},
        "stages": dict(Counter(v["stage"] for v in states.values())),
        "not_terminal": not_terminal[:10],
        "outbox": {"messages": len(outbox["messages"]), "calls": len(outbox["calls"])},
        "ledger": dict(Counter(str(r["status"]) for r in db["attempts"])),
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
    stack = Stack(
        data_dir / "stack",
        day_seconds=config.day_seconds,
        env={"COLLECTFLOW_TWILIO_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT)},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = ChaosConfig()
    parser.add_argument("--cases", type=int, default=defaults.cases)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--server-restarts", type=int, default=defaults.server_restarts)
    parser.add_argument("--api-restarts", type=int, default=defaults.api_restarts)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--day-seconds", type=int, default=defaults.day_seconds)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the run's files here")
    args = parser.parse_args()
    config = ChaosConfig(
        cases=args.cases,
        kills=args.kills,
        server_restarts=args.server_restarts,
        api_restarts=args.api_restarts,
        seed=args.seed,
        day_seconds=args.day_seconds,
        data_dir=args.data_dir,
    )
    status = 1
    try:
        report = chaos(config)
        print(json.dumps(report, indent=2, default=str))
        status = 0 if report["ok"] else 1
    finally:
        exit_now(status)


if __name__ == "__main__":
    main()
