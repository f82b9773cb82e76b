"""``collectflow dev --demo`` as a newcomer runs it (issue 5, tests 1 and 2).

The real command in a subprocess on free ports with its own data directory: the Temporal dev
server, the sandbox, the worker and the API as its children. The demo's strategy day is two
seconds so a borrower pays after the first SMS within moments of start-up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.schemas import OverdueEvent
from cli import demo
from cli.dev_plan import derive_strategies, make_plan
from models.settings import PROJECT_ROOT, Settings
from models.strategy import load_strategy

COLLECTFLOW = Path(sys.executable).parent / "collectflow"
READY = "CollectFlow is ready"
AUDITOR = {"Authorization": "Bearer dev-auditor"}
TERMINAL = {"resolved", "settled", "legal", "written_off", "closed"}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def processes_mentioning(marker: str) -> list[str]:
    """Live processes whose command line or environment names ``marker`` (zombies excluded)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


class DevStack:
    """One ``collectflow dev --demo`` run; its merged output is collected line by line."""

    def __init__(self, data_dir: Path, ports: list[int]) -> None:
        self.data_dir = data_dir
        api, temporal, ui, sandbox = ports
        self.api_url = f"http://127.0.0.1:{api}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLLECTFLOW_")}
        env.update(
            {
                "COLLECTFLOW_DATA_DIR": str(data_dir),
                "COLLECTFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'collectflow.db'}",
                "COLLECTFLOW_API_PORT": str(api),
                "COLLECTFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
                "COLLECTFLOW_TEMPORAL_UI_PORT": str(ui),
                "COLLECTFLOW_SANDBOX_PORT": str(sandbox),
                "COLLECTFLOW_LOG_JSON": "true",
            }
        )
        self.env = env
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(COLLECTFLOW), "dev", "--demo", "--demo-day-seconds", "2"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our SIGINT goes to the supervisor alone, as a terminal's
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.strip() == READY:
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 150) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.lines[-60:])
                pytest.fail(f"no '{READY}' (exit {self.proc.poll()}); output tail:\n{tail}")

    def case(self, loan_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.api_url}/v1/cases/{loan_id}", headers=AUDITOR, timeout=15)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    def wait_case(
        self, loan_id: str, check: Callable[[dict[str, Any]], bool], within: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        state = self.case(loan_id)
        while not check(state):
            if time.monotonic() > deadline:
                pytest.fail(f"{loan_id} never got there; last state: stage {state['stage']}")
            time.sleep(0.5)
            state = self.case(loan_id)
        return state

    def interrupt(self, timeout: float = 90) -> int:
        """Ctrl-C: SIGINT to the supervisor; it stops its children and exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"collectflow dev did not stop within {timeout}s:\n{self.output[-3000:]}")

    def kill(self) -> None:
        """Test clean-up only: whatever is left of this run, by its unique data directory."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for line in processes_mentioning(str(self.data_dir)):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "data"
    yield data_dir
    for line in processes_mentioning(str(data_dir)):  # never leave a stray server behind
        os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


@pytest.mark.integration
def test_demo_resolves_a_case_stops_cleanly_and_resumes(stack_dir: Path) -> None:
    """Ready banner → a demo case reaches resolved → Ctrl-C leaves no child → a restart on the
    same data directory finds the first run's cases and they carry on."""
    ports = free_ports(4)
    first = DevStack(stack_dir, ports)
    first.start()
    try:
        first.wait_ready()
        banner = first.output
        for expected in (
            f"{first.api_url}/docs",
            f"127.0.0.1:{ports[2]}/namespaces/default/workflows",
            f"127.0.0.1:{ports[3]}/sandbox/outbox",
            "dev-system",
            "dev-auditor",
            "curl -s -H 'Authorization: Bearer dev-auditor'",
            f"{first.api_url}/login",
            "collector   demo-collector   operator, field agent A-HZ-1",
        ):
            assert expected in banner
        _log_in_as_demo_collector(first.api_url)

        paid = first.wait_case(demo.PAYER, lambda s: s["stage"] == "resolved", within=60)
        assert paid["balance"] == "0.00"
        assert any(r["channel"] == "sms" and r["provider_sid"] for r in paid["contact_log"])
        # An unscripted case that is still open when we stop: it must carry on after a restart.
        moving = "DEMO-1005"
        before = first.wait_case(moving, lambda s: len(s["contact_log"]) >= 1, within=30)
        assert before["stage"] not in TERMINAL
        status = first.interrupt()
    finally:
        first.kill()
    assert status == 0, first.output[-3000:]
    assert processes_mentioning(str(stack_dir)) == [], "a child outlived collectflow dev"
    assert "temporal stopped" in first.output and "all stopped" in first.output
    _assert_no_personal_data(first.output)

    second = DevStack(stack_dir, ports)
    second.start()
    try:
        second.wait_ready()
        assert "continued from the last run" in second.output
        assert second.case(demo.PAYER)["stage"] == "resolved"
        after = second.case(moving)
        assert after["opened_at"] == before["opened_at"]  # the same case, not a new one
        assert after["event_seq"] >= before["event_seq"]
        second.wait_case(
            moving,
            lambda s: s["event_seq"] > after["event_seq"] or s["stage"] != after["stage"],
            within=60,
        )
        status = second.interrupt()
    finally:
        second.kill()
    assert status == 0, second.output[-3000:]
    assert processes_mentioning(str(stack_dir)) == []
    assert (stack_dir / "temporal.db").exists() and (stack_dir / "collectflow.db").exists()


def _log_in_as_demo_collector(api_url: str) -> None:
    """The banner's demo person can log in to the screens (development: plain-http cookies)."""
    with httpx.Client(base_url=api_url) as http:
        form = http.get("/login").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        answer = http.post(
            "/login", data={"username": "collector", "password": "demo-collector", "csrf": token}
        )
        assert answer.status_code == 303, answer.text
        assert "Demo Collector" in http.get("/").text


def _assert_no_personal_data(output: str) -> None:
    """Issue 5 test 3 on the real stack: no demo borrower's phone or name in any log line."""
    loans = [f"DEMO-{1001 + i}" for i in range(demo.LOAN_COUNT)]
    for phone in (demo.demo_phone(loan_id) for loan_id in loans):
        assert phone not in output and phone.lstrip("+") not in output
    for name in (*demo.ZH_NAMES, *demo.EN_NAMES):
        assert name not in output


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    """A port already in use: exit 2 and one line naming the port and the setting; no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(COLLECTFLOW), "dev", "--data-dir", str(tmp_path)],
            env={**os.environ, "COLLECTFLOW_SANDBOX_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "COLLECTFLOW_SANDBOX_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _local_hour(zone: str, now: datetime) -> float:
    local = now.astimezone(ZoneInfo(zone))
    return local.hour + local.minute / 60


@pytest.mark.parametrize("month", [1, 7])  # both sides of daylight saving time
def test_demo_zones_fit_the_contact_window_at_any_hour(month: int) -> None:
    """Whenever the demo runs, two zones have hours of contact window left and one is shut."""
    start = datetime(2026, month, 15, tzinfo=UTC)
    for step in range(48):
        now = start + timedelta(minutes=30 * step)
        zones = demo.choose_zones(now)
        assert zones.open_zh != zones.open_en
        for zone in (zones.open_zh, zones.open_en):
            assert 8 <= _local_hour(zone, now) < 19, (now, zone)
        assert not 8 <= _local_hour(zones.closed, now) < 21, (now, zones.closed)


def test_demo_loans_are_valid_overdue_events() -> None:
    """Twenty events the API accepts: two regions, three zones, both locales, unique phones."""
    now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    loans = [OverdueEvent.model_validate(x) for x in demo.demo_loans(now, demo.choose_zones(now))]
    assert len(loans) == demo.LOAN_COUNT
    assert {x.borrower.region for x in loans} == set(demo.AGENTS)
    assert len({x.borrower.timezone for x in loans}) == 3
    assert {x.borrower.locale for x in loans} == {"zh-CN", "en"}
    assert len({x.borrower.phone for x in loans}) == demo.LOAN_COUNT
    assert all(x.strategy == demo.STRATEGY for x in loans)
    assert all(x.due_date < now.date() for x in loans)


def test_plan_wires_children_to_each_other(tmp_path: Path) -> None:
    """Children get development mode, each other's URLs, the data directory's SQLite file and,
    with a shorter demo day, a strategy directory where the demo strategy has that day."""
    settings = Settings(env="development", data_dir=tmp_path, api_port=9100, sandbox_port=9188)
    plan = make_plan(settings, temporal_port=9233, demo_day_seconds=3)
    env = plan.child_env
    assert env["COLLECTFLOW_ENV"] == "development"
    assert env["COLLECTFLOW_PUBLIC_BASE_URL"] == "http://127.0.0.1:9100"
    assert env["COLLECTFLOW_TWILIO_BASE_URL"] == "http://127.0.0.1:9188"
    assert env["COLLECTFLOW_TEMPORAL_ADDRESS"] == "127.0.0.1:9233"
    assert env["COLLECTFLOW_DATABASE_URL"].endswith(f"{tmp_path.resolve()}/collectflow.db")
    assert float(env["COLLECTFLOW_MESSAGING_RATE_PER_SECOND"]) > 1
    derive_strategies(plan.strategy_source, plan.strategy_dir, 3)
    assert load_strategy("demo", plan.strategy_dir).day_seconds == 3
    assert load_strategy("default", plan.strategy_dir).day_seconds == 86_400
    # a strategy's scorecard file travels with it
    assert load_strategy("segmented", plan.strategy_dir).scorecard is not None
