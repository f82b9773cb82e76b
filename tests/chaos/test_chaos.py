"""The reduced chaos run of issue 8: 30 seeded cases of every kind (phone changes and reopened
loans included) through worker kills, a Temporal restart on its database, an API restart and a
faulty Twilio sandbox; every invariant holds, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chaos.run import ChaosConfig, chaos


def _reduced_run(tmp_path: Path, seed: int, database_url: str | None) -> None:
    """No case ends differently, nobody is contacted twice or when they must not be, no
    payment is lost or doubled, and no process outlives the run."""
    config = ChaosConfig(
        cases=30,
        kills=3,
        server_restarts=1,
        api_restarts=1,
        seed=seed,
        data_dir=tmp_path,
        database_url=database_url,
    )
    report = chaos(config)
    text = json.dumps(report, indent=2, default=str)
    assert sum(report["faults_done"].values()) == 5, text
    assert {"new_phone", "reopen"} <= set(report["kinds"]), text
    for name, result in report["invariants"].items():
        assert result["violations"] == 0, f"{name}: {text}"
    assert report["not_terminal"] == [], text
    assert report["api_500s"] == 0, text
    assert report["orphans"] == [], text
    assert report["ok"], text


def test_reduced_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    _reduced_run(tmp_path, seed=7, database_url=None)


@pytest.mark.postgres
def test_reduced_chaos_run_on_postgresql_keeps_every_invariant(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same faults with the application database on PostgreSQL (another seed)."""
    _reduced_run(tmp_path, seed=8, database_url=postgres_url)
