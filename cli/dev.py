"""``collectflow dev``: the whole stack on one machine, as child processes it supervises.

Order: check the four ports, apply migrations, then start and wait for each piece in turn —
the Temporal dev server (file persistence in the data directory, search attributes
registered), the Twilio sandbox, the worker, the API — and print where everything is. Each
child runs in its own process group (so a terminal's Ctrl-C reaches only this supervisor, which
then stops them in order) and is told by the kernel to stop if the supervisor itself dies.
Stopping a child is SIGINT, then SIGTERM, then SIGKILL of its whole group, each after a grace
period; a child that exits on its own is reported and the rest are stopped.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import IO, Annotated

import httpx
import structlog
import typer

from cli.dev_plan import (
    DevError,
    DevPlan,
    Interrupted,
    check_ports,
    derive_strategies,
    make_plan,
    search_attribute_flags,
    temporal_binary,
)
from cli.dev_procs import (
    Supervisor,
    http_ready,
    temporal_ready,
    worker_ready,
)
from models.observability import configure_logging
from models.settings import DEMO_API_KEYS, Settings

log = structlog.get_logger("collectflow.dev")


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def run_dev(plan: DevPlan, *, demo: bool, out: IO[str] | None = None) -> int:
    """Bring the stack up, print the banner, supervise; returns the exit status."""
    out = out or sys.stderr
    supervisor = Supervisor(out)
    supervisor.install_signal_handlers()
    player_stop = threading.Event()
    player: threading.Thread | None = None
    try:
        check_ports(plan)
        binary = temporal_binary()
        _prepare(plan, demo=demo)
        env = plan.child_env
        supervisor.start(
            "temporal",
            [
                binary,
                "server",
                "start-dev",
                "--ip",
                plan.host,
                "--port",
                str(plan.temporal_port),
                "--ui-port",
                str(plan.ui_port),
                "--db-filename",
                str(plan.data_dir / "temporal.db"),
                "--namespace",
                plan.namespace,
                "--log-level",
                "error",  # its shutdown is chatty at warn; errors still show
                *search_attribute_flags(),
            ],
            env,
            temporal_ready(plan, binary),
            plan.temporal_address,
        )
        supervisor.start(
            "sandbox",
            _python("sandbox"),
            env,
            http_ready(f"{plan.sandbox_url}/sandbox/health"),
            plan.sandbox_url,
        )
        supervisor.start(
            "worker",
            _python("worker"),
            env,
            worker_ready(plan, binary),
            f"task queues {plan.task_queue} and {plan.messaging_task_queue}",
        )
        supervisor.start(
            "api",
            _python("api"),
            env,
            http_ready(f"{plan.api_url}/healthz"),
            f"{plan.api_url}/healthz",
        )
        demo_lines: list[str] = []
        if demo:
            player, demo_lines = _start_demo(plan, player_stop)
        if supervisor.stop_requested.is_set():
            raise Interrupted
        print(banner(plan, demo_lines), flush=True)  # stdout: the part a person (or test) reads
        return supervisor.watch()
    except Interrupted:
        return 0
    except DevError as exc:
        supervisor.say(str(exc))
        return exc.status
    finally:
        player_stop.set()
        if supervisor.children:
            supervisor.say("stopping " + ", ".join(c.name for c in reversed(supervisor.children)))
        supervisor.stop_all()
        if player is not None:
            player.join(timeout=5)
        if supervisor.children:
            supervisor.say("all stopped")


def _prepare(plan: DevPlan, *, demo: bool) -> None:
    from activities.db import upgrade_database

    plan.data_dir.mkdir(parents=True, exist_ok=True)
    if plan.demo_day_seconds:
        derive_strategies(plan.strategy_source, plan.strategy_dir, plan.demo_day_seconds)
    try:
        upgrade_database(plan.database_url)
    except Exception as exc:  # a bad URL or an unreachable server: say so in one line
        raise DevError(f"could not migrate the database {plan.database_url}: {exc}") from exc
    from audit.heads import DEV_KEY_NAME
    from audit.signing import ensure_key

    # Exports are signed everywhere; development's key lives beside its data (made once).
    ensure_key(plan.data_dir / DEV_KEY_NAME)
    if demo:
        from cli.demo import seed_agents
        from cli.demo_users import seed_users

        added = asyncio.run(seed_agents(plan.database_url))
        log.info("demo field agents", added=added)
        log.info("demo people", added=asyncio.run(seed_users(plan.database_url)))


def _start_demo(plan: DevPlan, stop: threading.Event) -> tuple[threading.Thread, list[str]]:
    from cli import demo
    from models.strategy import load_strategy

    try:
        seeded = asyncio.run(demo.seed(plan.api_url, plan.data_dir))
    except (demo.DemoError, httpx.HTTPError) as exc:
        raise DevError(f"demo seeding failed: {exc}") from exc
    day = load_strategy(demo.STRATEGY, plan.strategy_dir).day_seconds
    player = demo.DemoPlayer(plan.api_url, plan.sandbox_url, day).run_in_thread(stop)
    zones = seeded.zones
    lines = [
        f"Demo: {len(seeded.loans)} overdue loans on the '{demo.STRATEGY}' strategy "
        f"(one strategy day = {day} s){'' if seeded.fresh else ', continued from the last run'}",
        f"  time zones: {zones.open_zh} and {zones.open_en} (contact window open), "
        f"{zones.closed} (closed: watch the deferral)",
        *(f"  {loan_id}  {what}" for loan_id, what in demo.SCRIPTED.items()),
    ]
    return player, lines


def banner(plan: DevPlan, demo_lines: list[str]) -> str:
    keys = "\n".join(f"    {role:<11} {key}" for key, (_, role) in DEMO_API_KEYS.items())
    ui = f"{plan.ui_url}/namespaces/{plan.namespace}/workflows"
    try_it = (
        f"curl -s -H 'Authorization: Bearer dev-auditor' '{plan.api_url}/v1/cases?stage=reminding'"
    )
    parts = [
        "",
        "CollectFlow (development)",
        f"  API docs        {plan.api_url}/docs",
        f"  Temporal UI     {ui}",
        f"  Sandbox outbox  {plan.sandbox_url}/sandbox/outbox",
        f"  Data            {plan.data_dir}",
        *(
            ["  Logs            warnings only from the children (COLLECTFLOW_LOG_LEVEL=INFO: all)"]
            if plan.quiet_children
            else []
        ),
        "  Demo API keys (development only):",
        keys,
        "  Try:",
        f"    {try_it}",
    ]
    if demo_lines:
        from cli.demo_users import banner_lines

        parts += ["", *banner_lines(plan.api_url), "", *demo_lines]
    parts += ["", "CollectFlow is ready", "Press Ctrl-C to stop.", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- the command


def dev(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo",
            help="Seed agents and 20 overdue loans and play four borrowers.",
        ),
    ] = False,
    api_port: Annotated[
        int | None, typer.Option(help="API port (default: COLLECTFLOW_API_PORT, 8000).")
    ] = None,
    temporal_port: Annotated[
        int | None,
        typer.Option(help="Temporal frontend port (default: from COLLECTFLOW_TEMPORAL_ADDRESS)."),
    ] = None,
    ui_port: Annotated[
        int | None, typer.Option(help="Temporal UI port (default: COLLECTFLOW_TEMPORAL_UI_PORT).")
    ] = None,
    sandbox_port: Annotated[
        int | None, typer.Option(help="Twilio sandbox port (default: COLLECTFLOW_SANDBOX_PORT).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where Temporal and SQLite keep their files (default: .data)."),
    ] = None,
    demo_day_seconds: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="COLLECTFLOW_DEMO_DAY_SECONDS",
            help="Shorten the demo strategy's day to this many seconds (default: its own, 60).",
        ),
    ] = None,
) -> None:
    """Run the whole stack locally: Temporal, the Twilio sandbox, the worker and the API."""
    settings = Settings(env="development")
    configure_logging(settings)
    plan = make_plan(
        settings,
        data_dir=data_dir,
        api_port=api_port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        sandbox_port=sandbox_port,
        demo_day_seconds=demo_day_seconds,
        console_logs=sys.stderr.isatty(),
    )
    raise typer.Exit(run_dev(plan, demo=demo))


def register(app: typer.Typer) -> None:
    app.command()(dev)
