"""The reduced chaos run of issue 8: 30 seeded cases through worker kills, a Temporal restart
on its database, an API restart and a faulty Twilio sandbox; every invariant holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.chaos.run import ChaosConfig, chaos
from tests.chaos.scenario import KINDS

# Without the phone-change and reopen kinds: `make chaos` shows they fail today (a running case
# keeps its first phone; a reopened loan's case reuses the earlier ledger keys and projection
# seqs, so it sends nothing and is not projected) until the case core carries borrower ids and
# generations (issue 16 items 1-2, DESIGN §2). tests/chaos/test_checks.py proves those checks
# can fail; this run keeps every other invariant in `make test`.
REDUCED_KINDS = frozenset(k for k, _ in KINDS) - {"new_phone", "reopen"}


def test_reduced_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    """No case ends differently, nobody is contacted twice or when they must not be, no
    payment is lost or doubled, and no process outlives the run."""
    config = ChaosConfig(
        cases=30,
        kills=3,
        server_restarts=1,
        api_restarts=1,
        seed=7,
        data_dir=tmp_path,
        kinds=REDUCED_KINDS,
    )
    report = chaos(config)
    text = json.dumps(report, indent=2, default=str)
    assert sum(report["faults_done"].values()) == 5, text
    for name, result in report["invariants"].items():
        assert result["violations"] == 0, f"{name}: {text}"
    assert report["not_terminal"] == [], text
    assert report["api_500s"] == 0, text
    assert report["orphans"] == [], text
    assert report["ok"], text
