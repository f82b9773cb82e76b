"""The dev stack's children: each in its own process group, told by the kernel to stop if the
supervisor dies; the supervisor that starts them in order, waits for each to be ready, and
stops them SIGINT → SIGTERM → SIGKILL after grace periods."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import IO

import httpx

from cli.dev_plan import (
    DEFAULT_STOP_GRACE_SECONDS,
    START_TIMEOUT_SECONDS,
    STOP_GRACE_SECONDS,
    TERM_GRACE_SECONDS,
    DevError,
    DevPlan,
    Interrupted,
)  # replaced below by explicit names

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


def temporal_ready(plan: DevPlan, binary: str) -> Callable[[Child], bool]:
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


def http_ready(url: str) -> Callable[[Child], bool]:
    def ready(_: Child) -> bool:
        return httpx.get(url, timeout=5).status_code == 200

    return ready


def worker_ready(plan: DevPlan, binary: str) -> Callable[[Child], bool]:
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
        return any(rfc3339(p.get("lastAccessTime")) >= since for p in pollers)

    def ready(child: Child) -> bool:
        since = child.started_at.replace(microsecond=0)
        return polled_since(plan.task_queue, "workflow", since) and polled_since(
            plan.messaging_task_queue, "activity", since
        )

    return ready


def rfc3339(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        return datetime.min.replace(tzinfo=UTC)
    # Go prints nanoseconds; Python takes at most microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


# ---------------------------------------------------------------- the whole run
