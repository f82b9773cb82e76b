"""Each benchmark runs in ``--smoke`` mode and prints one JSON object with every figure."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.stack import bench_settings
from models.settings import PROJECT_ROOT
from tests.conftest import TEST_VAULT_ENV

FIGURES: dict[str, set[str]] = {
    "simulate": {
        "engine",
        "loans",
        "days",
        "seconds",
        "loan_days_per_second",
        "heap_events",
        "recovery_rate",
    },
    "throughput": {
        "n",
        "concurrency",
        "a_bare_http_starts_per_second",
        "b_case_starts_per_second",
        "c_bare_http_updates_per_second",
        "d_payment_updates_per_second",
        "ratio_b_over_a",
        "ratio_d_over_c",
        "a_cpu_ms_per_bare_start",
        "b_cpu_ms_per_case_start",
        "c_cpu_ms_per_bare_update",
        "d_cpu_ms_per_payment",
    },
    "lifecycle": {"loans_per_behaviour", "days", "behaviours", "largest_run_events"},
    "replay": {
        "histories",
        "distinct_histories",
        "events",
        "seconds",
        "histories_per_second",
        "events_per_second",
    },
    "scale": {
        "cases",
        "start_rate_per_second",
        "started_and_idle_per_second",
        "worker_rss_mb",
        "worker_rss_growth_mb",
        "server_db_bytes",
        "server_db_bytes_per_case",
    },
}
PER_BEHAVIOUR = {"events_per_case", "activities_per_case", "max_events_single_run"}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_bench_smoke_prints_every_figure(name: str) -> None:
    """The script exits 0 and its stdout is exactly one JSON object holding every figure."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--smoke"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert isinstance(figures, dict)
    assert FIGURES[name] <= set(figures), set(FIGURES[name]) - set(figures)
    assert all(figures[key] is not None for key in FIGURES[name])
    if name == "lifecycle":
        assert len(figures["behaviours"]) == 7
        for row in figures["behaviours"].values():
            assert set(row) >= PER_BEHAVIOUR
            assert row["events_per_case"] > 0


def test_the_bench_stack_passes_the_production_guard_without_the_suites_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``make bench`` runs outside pytest, where no fixture sets the vault's keys: the bench's
    own settings must carry every key the guard asks for (they once lacked the vault's)."""
    for name in TEST_VAULT_ENV:
        monkeypatch.delenv(name, raising=False)
    settings = bench_settings("sqlite+aiosqlite:///unused.db", "http://127.0.0.1:9", "q")
    assert settings.vault_keys and settings.phone_hmac_key
