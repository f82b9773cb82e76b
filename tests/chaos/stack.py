"""The local stack as separately controllable processes, for chaos, hostile-input and load runs.

The Temporal dev server (file persistence, so it can be stopped and restarted on the same
database), the Twilio sandbox, the worker and the API, each a child process in its own process
group, started with ``cli.dev``'s plan, strategy derivation and readiness checks. Unlike
``collectflow dev`` the caller may SIGKILL the worker, stop and restart Temporal, or restart the
API at any moment. Every child's output goes to one log file; :meth:`Stack.stop` stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO

import httpx

from cli.demo import seed_agents
from cli.dev_plan import (
    DevPlan,
    derive_strategies,
    make_plan,
    search_attribute_flags,
    temporal_binary,
)
from cli.dev_procs import Child, http_ready, worker_ready
from models.settings import Settings

START_TIMEOUT = 120.0


class StackError(RuntimeError):
    """A piece did not start, or exited while it should be running."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """Temporal + sandbox + worker + API on free loopback ports, under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        day_seconds: int = 2,
        env: dict[str, str] | None = None,
        log_level: str = "INFO",
        database_url: str | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.plan: DevPlan = make_plan(
            Settings(env="development"),
            data_dir=data_dir,
            api_port=free_port(),
            temporal_port=free_port(),
            ui_port=free_port(),
            sandbox_port=free_port(),
            demo_day_seconds=day_seconds,
        )
        if database_url is not None:  # e.g. PostgreSQL instead of the data directory's SQLite
            self.plan = replace(self.plan, database_url=database_url)
        self.env = dict(self.plan.child_env)
        self.env.update(
            {
                "COLLECTFLOW_LOG_JSON": "true",
                "COLLECTFLOW_LOG_LEVEL": log_level,
                "COLLECTFLOW_MESSAGING_RATE_PER_SECOND": "1000",
                "COLLECTFLOW_DATABASE_URL": self.plan.database_url,
                **(env or {}),
            }
        )
        self.log_path = data_dir / "stack.log"
        self._log: IO[str] = self.log_path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._binary = temporal_binary()
        self.children: dict[str, Child] = {}

    # ---------------------------------------------------------------- addresses

    @property
    def api_url(self) -> str:
        return self.plan.api_url

    @property
    def sandbox_url(self) -> str:
        return self.plan.sandbox_url

    @property
    def database_path(self) -> Path:
        return self.data_dir / "collectflow.db"

    @property
    def database_url(self) -> str:
        return self.plan.database_url

    # ---------------------------------------------------------------- whole stack

    def start(self) -> None:
        from activities.db import upgrade_database

        derive_strategies(self.plan.strategy_source, self.plan.strategy_dir, self._day_seconds())
        upgrade_database(self.plan.database_url)
        asyncio.run(seed_agents(self.plan.database_url))
        self.start_temporal()
        self._start(
            "sandbox", self._python("sandbox"), http_ready(f"{self.sandbox_url}/sandbox/health")
        )
        self.start_worker()
        self.start_api()

    def stop(self) -> None:
        """Apps first (they talk to Temporal while stopping), Temporal last; nothing left."""
        for name in ("api", "worker", "sandbox", "temporal"):
            self._stop(name, signal.SIGTERM if name != "temporal" else signal.SIGINT)
        with contextlib.suppress(OSError):
            self._log.close()

    def logs(self) -> str:
        with self._lock:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # ---------------------------------------------------------------- pieces

    def start_temporal(self) -> None:
        argv = [
            self._binary,
            "server",
            "start-dev",
            "--ip",
            self.plan.host,
            "--port",
            str(self.plan.temporal_port),
            "--headless",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--namespace",
            self.plan.namespace,
            "--log-level",
            "error",
            *search_attribute_flags(),
        ]
        self._start("temporal", argv, self.temporal_ready)

    def stop_temporal(self) -> None:
        self._stop("temporal", signal.SIGINT)

    def start_worker(self) -> None:
        self._start("worker", self._python("worker"), worker_ready(self.plan, self._binary))

    def kill_worker(self) -> None:
        """SIGKILL: no shutdown, in-flight activities and workflow tasks are abandoned."""
        self._stop("worker", signal.SIGKILL)

    def start_api(self) -> None:
        self._start("api", self._python("api"), http_ready(f"{self.api_url}/healthz"))

    def stop_api(self) -> None:
        self._stop("api", signal.SIGTERM)

    def pids(self) -> list[int]:
        return [c.pid for c in self.children.values() if c.running()]

    # ---------------------------------------------------------------- internals

    def _day_seconds(self) -> int:
        return self.plan.demo_day_seconds or 60

    def _python(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cli.main", *args]

    def temporal_ready(self, _: Child) -> bool:
        result = subprocess.run(
            [
                self._binary,
                "operator",
                "cluster",
                "health",
                "--address",
                self.plan.temporal_address,
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0 and "SERVING" in result.stdout

    def _start(self, name: str, argv: list[str], ready: Callable[[Child], bool]) -> None:
        if name in self.children and self.children[name].running():
            raise StackError(f"{name} is already running")
        child = Child(name, argv, self.env, self._log)
        self.children[name] = child
        child.start(self._lock)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not child.running():
                raise StackError(f"{name} exited during start-up ({child.exit_description()})")
            with contextlib.suppress(
                httpx.HTTPError, OSError, subprocess.SubprocessError, ValueError
            ):
                if ready(child):
                    return
            if time.monotonic() > deadline:
                raise StackError(f"{name} did not become ready within {START_TIMEOUT:.0f}s")
            time.sleep(0.3)

    def _stop(self, name: str, first: int, grace: float = 15.0) -> None:
        child = self.children.get(name)
        if child is None or child.proc is None:
            return
        for signum, wait in ((first, grace), (signal.SIGKILL, 5.0)):
            if not child.running():
                break
            child.signal_group(signum)
            deadline = time.monotonic() + wait
            while child.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        child.finish()  # reaps, and SIGKILLs anything left in the process group


def exit_now(status: int) -> None:
    """Leave without interpreter finalisation (temporalio/sdk-python#300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
