"""The load bench retries payments and idempotent notes and proves nothing doubles."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.load import doubles
from models.settings import PROJECT_ROOT


def test_doubles_counts_a_payment_or_a_note_recorded_twice() -> None:
    """Fed a doubled ref (in the state, then in the table) and a doubled note, it counts each;
    a note text that was never retried, or appears once, is not a double."""
    clean = doubles(["P1", "P2"], ["P1", "P2"], ["a", "b", "b"], {"a"})
    assert clean == {"payments_recorded_twice": 0, "notes_recorded_twice": 0}
    assert doubles(["P1", "P1"], ["P1"], [], set())["payments_recorded_twice"] == 1
    assert doubles(["P1"], ["P1", "P1"], [], set())["payments_recorded_twice"] == 1
    assert doubles([], [], ["a", "a", "a"], {"a"})["notes_recorded_twice"] == 2


def test_load_smoke_retries_and_nothing_doubles() -> None:
    """10 clients for 5 s on the real stack; a quarter of the requests resend an earlier
    payment (same payment_ref) or note (same Idempotency-Key)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--smoke"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    text = json.dumps(report, indent=2)
    assert report["payment_retries_sent"] > 0 and report["note_retries_sent"] > 0, text
    assert report["payments_recorded_twice"] == 0, text
    assert report["notes_recorded_twice"] == 0, text
    assert report["retries_refused"] == {}, text
    assert report["accepted_payments_lost"] == 0, text
    assert done.returncode == 0 and report["ok"], text
