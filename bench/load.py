"""Load: concurrent clients sending payments and operator notes to the API for a fixed time.

Loopback only and bounded in count and time. The stack is real: the Temporal dev server, the
worker and the API under uvicorn, as processes on free ports (``tests.chaos.stack``). Clients
spread over a few cases so Temporal's per-workflow limit on in-flight updates pushes back; the
API must answer that with 429/503 and ``Retry-After``, never 500, and every accepted payment
must be recorded exactly once (workflow state and database). A share of the requests are
retries: the same payment (same ``payment_ref``, same body) or the same note (same
``Idempotency-Key``) sent again, as a client that lost the answer would; nothing may double.
Prints one JSON object.

    python -m bench.load            # 100 clients, 60 s
    python -m bench.load --smoke    # 10 clients, 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.stack import Stack, exit_now
from workflows.core.state import NOTES_KEPT

SYSTEM = {"Authorization": "Bearer dev-system"}
OPERATOR = {"Authorization": "Bearer dev-operator"}
AUDITOR = {"Authorization": "Bearer dev-auditor"}
MAX_REQUESTS = 200_000
PAYMENT_SHARE = 0.7
RETRY_SHARE = 0.25  # of requests: an earlier request sent again, byte for byte


@dataclass(frozen=True)
class Sent:
    loan_id: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    ref: str  # the payment_ref, or "" for a note
    note_key: str  # the Idempotency-Key of a note, or ""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    missing_retry_after: int = 0
    payments_sent: dict[str, set[str]] = field(default_factory=dict)
    payments_accepted: dict[str, set[str]] = field(default_factory=dict)
    notes_accepted: Counter[str] = field(default_factory=Counter)
    # Idempotency-Key -> loan, text of notes answered 200 (a retry answered 200 counts once).
    notes_by_key: dict[str, tuple[str, str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    payment_retries: int = 0
    note_retries: int = 0
    retries_refused: Counter[str] = field(default_factory=Counter)


def _event(loan_id: str) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "currency": "CNY",
        "amount_overdue": "1000000.00",
        "outstanding_balance": "2000000.00",
        "due_date": datetime.now(UTC).date().isoformat(),
        "strategy": "demo",  # a strategy day of an hour here: no contact during the run
        "borrower": {
            "id": f"B-{loan_id}",
            "name": "Load Test",
            "phone": f"+86136{uuid.uuid4().int % 10**8:08d}",
            "timezone": "Asia/Shanghai",
            "locale": "zh-CN",
            "region": "hz-west",
            "consent": {"sms": False, "call": False},
        },
    }


def _fresh(loan_id: str, rng: random.Random) -> Sent:
    if rng.random() < PAYMENT_SHARE:
        ref = f"LD-{uuid.uuid4().hex}"
        body = {"payment_ref": ref, "amount": "0.01", "paid_at": datetime.now(UTC).isoformat()}
        return Sent(loan_id, f"/v1/cases/{loan_id}/payments", SYSTEM, body, ref, "")
    key = uuid.uuid4().hex
    headers = {**OPERATOR, "Idempotency-Key": key}
    body = {"text": f"load note {key[:12]}"}
    return Sent(loan_id, f"/v1/cases/{loan_id}/notes", headers, body, "", key)


async def _client(
    http: httpx.AsyncClient, loans: list[str], tally: Tally, until: float, rng: random.Random
) -> None:
    while time.monotonic() < until and len(tally.latencies) < MAX_REQUESTS:
        retry = bool(tally.sent) and rng.random() < RETRY_SHARE
        request = rng.choice(tally.sent) if retry else _fresh(rng.choice(loans), rng)
        if not retry:
            tally.sent.append(request)
            if request.ref:
                tally.payments_sent[request.loan_id].add(request.ref)
        elif request.ref:
            tally.payment_retries += 1
        else:
            tally.note_retries += 1
        started = time.perf_counter()
        try:
            response = await http.post(request.path, json=request.body, headers=request.headers)
        except httpx.TransportError as exc:
            tally.statuses[type(exc).__name__] += 1
            continue
        tally.latencies.append(time.perf_counter() - started)
        status = response.status_code
        tally.statuses[str(status)] += 1
        if status in (429, 503) and "Retry-After" not in response.headers:
            tally.missing_retry_after += 1
        if status in (200, 202):  # 202: applied, the state unreadable just then
            if request.ref:
                tally.payments_accepted[request.loan_id].add(request.ref)
            elif request.note_key not in tally.notes_by_key:
                tally.notes_accepted[request.loan_id] += 1
                tally.notes_by_key[request.note_key] = (request.loan_id, request.body["text"])
        elif status in (429, 503):
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
        elif retry:  # a retry must get the first answer again, never a refusal
            tally.retries_refused[f"{status} {response.text[:120]}"] += 1


def doubles(
    state_refs: list[str], db_refs: list[str], note_texts: list[str], retried_texts: set[str]
) -> dict[str, int]:
    """What a retry doubled in one case: a payment_ref twice in the workflow state or the
    payments table, or an idempotent note's text twice in the state."""
    texts = Counter(t for t in note_texts if t in retried_texts)
    return {
        "payments_recorded_twice": (len(state_refs) - len(set(state_refs)))
        + (len(db_refs) - len(set(db_refs))),
        "notes_recorded_twice": sum(n - 1 for n in texts.values() if n > 1),
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _verify(http: httpx.AsyncClient, stack: Stack, tally: Tally) -> dict[str, Any]:
    lost = doubled = notes_doubled = unaccepted_applied = notes_lost = 0
    note_texts = {text for _, text in tally.notes_by_key.values()}
    with sqlite3.connect(stack.database_path) as db:
        for loan_id in tally.payments_sent:
            state = (await http.get(f"/v1/cases/{loan_id}", headers=AUDITOR)).json()
            refs = [p["payment_ref"] for p in state["payments"]]
            rows = [
                r[0]
                for r in db.execute(
                    "SELECT payment_ref FROM payments WHERE case_id = ?", (f"case-{loan_id}",)
                )
            ]
            accepted = tally.payments_accepted[loan_id]
            # The table is the whole record; the case keeps its last PAYMENTS_KEPT payments
            # (older ones are archived to the timeline), so only the table can show a loss.
            lost += len(accepted - set(rows)) + len(set(refs) - set(rows))
            texts = [str(n.get("text", "")) for n in state["notes"]]
            found = doubles(refs, rows, texts, note_texts)
            doubled += found["payments_recorded_twice"]
            notes_doubled += found["notes_recorded_twice"]
            unaccepted_applied += len(set(refs) - accepted)
            kept = min(tally.notes_accepted[loan_id], NOTES_KEPT)  # older notes are archived
            notes_lost += max(0, kept - len(state["notes"]))
    return {
        "payments_accepted": sum(len(v) for v in tally.payments_accepted.values()),
        "accepted_payments_lost": lost,
        "payments_recorded_twice": doubled,
        "notes_recorded_twice": notes_doubled,
        "payment_retries_sent": tally.payment_retries,
        "note_retries_sent": tally.note_retries,
        "retries_refused": dict(tally.retries_refused),
        "payments_applied_without_200": unaccepted_applied,
        "notes_accepted": sum(tally.notes_accepted.values()),
        "accepted_notes_lost": notes_lost,
    }


async def _wait_projection(stack: Stack, tally: Tally, seconds: float = 60.0) -> bool:
    want = sum(len(v) for v in tally.payments_accepted.values())
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with sqlite3.connect(stack.database_path) as db:
            (have,) = db.execute("SELECT count(*) FROM payments").fetchone()
        if have >= want:
            return True
        await asyncio.sleep(0.5)
    return False


async def run_load(stack: Stack, clients: int, seconds: float, cases: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:
        loans = [f"LD-{uuid.uuid4().hex[:8]}" for _ in range(cases)]
        for loan_id in loans:
            response = await http.post("/v1/overdue-events", json=_event(loan_id), headers=SYSTEM)
            response.raise_for_status()
        tally = Tally()
        for loan_id in loans:
            tally.payments_sent[loan_id] = set()
            tally.payments_accepted[loan_id] = set()
        rng = random.Random(1)
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                _client(http, loans, tally, until, random.Random(rng.random()))
                for _ in range(clients)
            )
        )
        elapsed = time.monotonic() - started
        converged = await _wait_projection(stack, tally)
        verified = await _verify(http, stack, tally)
    ok_latencies = tally.latencies
    done = len(ok_latencies)
    errors = {k: v for k, v in tally.statuses.items() if k != "200"}
    return {
        "clients": clients,
        "cases": cases,
        "seconds": round(elapsed, 1),
        "requests": done,
        "throughput_rps": round(done / elapsed, 1),
        "accepted_rps": round(tally.statuses["200"] / elapsed, 1),
        "latency_ms": {
            "p50": round(_percentile(ok_latencies, 0.50) * 1000, 1),
            "p95": round(_percentile(ok_latencies, 0.95) * 1000, 1),
            "p99": round(_percentile(ok_latencies, 0.99) * 1000, 1),
            "mean": round(statistics.fmean(ok_latencies) * 1000, 1) if ok_latencies else 0.0,
        },
        "statuses": dict(tally.statuses),
        "errors_by_status": errors,
        "server_errors_500": tally.statuses["500"],
        "pushback_without_retry_after": tally.missing_retry_after,
        "projection_converged": converged,
        **verified,
    }


def _refusals(logs: str) -> dict[str, int]:
    """What Temporal refused with a status the API has no better answer for (its 502s)."""
    found: Counter[str] = Counter()
    for line in logs.splitlines():
        if "temporal rpc error" in line:
            try:
                record = json.loads(line.split("| ", 1)[1])
            except (IndexError, ValueError):
                continue
            found[f"{record.get('status')}: {str(record.get('message'))[:120]}"] += 1
    return dict(found)


def main() -> None:
    parser = argparse.ArgumentParser(description="CollectFlow API load test (loopback only)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cases", type=int, default=10, help="few cases: contention per case")
    parser.add_argument("--smoke", action="store_true", help="10 clients for 5 s")
    args = parser.parse_args()
    clients, seconds = (10, 5.0) if args.smoke else (args.clients, min(args.seconds, 600.0))
    status = 1
    data_dir = Path(tempfile.mkdtemp(prefix="collectflow-load-"))
    stack = Stack(data_dir, day_seconds=3600, log_level="WARNING")
    try:
        stack.start()
        report = asyncio.run(run_load(stack, clients, seconds, args.cases))
        report["temporal_refusals"] = _refusals(stack.logs())
        stack.stop()
        report["orphans"] = stack.pids()
        report["ok"] = (
            report["server_errors_500"] == 0
            and report["pushback_without_retry_after"] == 0
            and report["accepted_payments_lost"] == 0
            and report["payments_recorded_twice"] == 0
            and report["notes_recorded_twice"] == 0
            and not report["retries_refused"]
            and report["accepted_notes_lost"] == 0
        )
        print(json.dumps(report, indent=2))
        status = 0 if report["ok"] else 1
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        exit_now(status)


if __name__ == "__main__":
    main()
