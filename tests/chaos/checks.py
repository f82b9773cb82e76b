"""The invariants of a chaos run, from the outside: the sandbox outbox, the app database and
each case's ``state`` query. Each check returns a count of violations and a few examples."""

from __future__ import annotations

import base64
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cli.dev import _rfc3339
from tests.chaos.scenario import CENT, Script

WINDOW = (time(8, 0), time(21, 0))
SLACK = 1.0  # the outbox's date_created has whole seconds
SENT = ("sent", "delivered", "answered", "unanswered", "failed", "undelivered", "unknown")
EXAMPLES = 5


@dataclass
class Check:
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.violations += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(what)

    def report(self, **extra: Any) -> dict[str, Any]:
        return {"violations": self.violations, **extra, "examples": self.examples}


@dataclass(frozen=True)
class Sent:
    sid: str
    channel: str  # sms | call
    to: str
    body: str
    at: datetime


def outbox_items(outbox: dict[str, list[dict[str, Any]]]) -> list[Sent]:
    items = []
    for channel, kind, text in (("sms", "messages", "body"), ("call", "calls", "twiml")):
        for item in outbox.get(kind, []):
            at = parsedate_to_datetime(item["date_created"])
            items.append(Sent(item["sid"], channel, item["to"], str(item.get(text) or ""), at))
    return items


def cents(raw: object) -> Decimal:
    """SQLite keeps money as integer minor units (models.tables.MoneyType)."""
    return Decimal(str(raw)).scaleb(-2)


def read_db(path: Path) -> dict[str, list[sqlite3.Row]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return {
            "attempts": db.execute(
                "SELECT idempotency_key, case_id, channel, to_number, status, provider_sid "
                "FROM contact_attempts"
            ).fetchall(),
            "payments": db.execute("SELECT payment_ref, case_id, amount FROM payments").fetchall(),
            "cases": db.execute("SELECT case_id, stage, balance FROM cases").fetchall(),
        }


def end_states(scripts: list[Script], states: dict[str, dict[str, Any]]) -> Check:
    check = Check()
    for script in scripts:
        state = states[script.loan_id]
        actual = {
            "stage": state["stage"],
            "balance": str(Decimal(state["balance"]).quantize(CENT)),
            "paid_total": str(Decimal(state.get("paid_total", "0")).quantize(CENT)),
            "payments": sorted(p["payment_ref"] for p in state.get("payments", [])),
            "sms_opted_out": "sms" in state.get("opted_out", []),
            "notes": len(state.get("notes", [])),
        }
        expected = script.expected()
        if actual != expected:
            diff = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
            check.fail(f"{script.loan_id} ({script.kind}): expected, actual {diff}")
    return check


def one_send_per_key(items: list[Sent], attempts: list[sqlite3.Row]) -> tuple[Check, int]:
    """Each outbox item maps (by provider sid) to one ledger key, and no key has two items.

    A send whose sid the ledger never learnt (a timeout that committed at the provider) maps to
    no key; per number and channel, such sends plus mapped ones must not outnumber the keys the
    ledger holds as sent or unknown.
    """
    check = Check()
    by_sid = {
        row["provider_sid"]: row["idempotency_key"] for row in attempts if row["provider_sid"]
    }
    per_key = Counter(by_sid[i.sid] for i in items if i.sid in by_sid)
    for key, count in per_key.items():
        if count > 1:
            check.fail(f"{key}: {count} sends")
    unmapped = [i for i in items if i.sid not in by_sid]
    keys: Counter[tuple[str, str]] = Counter(
        (row["to_number"], row["channel"]) for row in attempts if row["status"] in SENT
    )
    sends = Counter((i.to, i.channel) for i in items)
    for (to, channel), count in sends.items():
        if count > keys[(to, channel)]:
            check.fail(f"{to} {channel}: {count} sends for {keys[(to, channel)]} ledger keys")
    return check, len(unmapped)


def payments_once(
    scripts: list[Script], states: dict[str, dict[str, Any]], db: dict[str, list[sqlite3.Row]]
) -> Check:
    check = Check()
    rows: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in db["payments"]:
        rows[row["case_id"]].append(row)
    balances = {row["case_id"]: cents(row["balance"]) for row in db["cases"]}
    for script in scripts:
        state = states[script.loan_id]
        recorded = sorted(r["payment_ref"] for r in rows[script.case_id])
        in_state = sorted(p["payment_ref"] for p in state.get("payments", []))
        accepted = sorted(script.accepted_refs)
        if not (recorded == in_state == accepted):
            check.fail(f"{script.loan_id}: db {recorded} state {in_state} accepted {accepted}")
        db_sum = sum((cents(r["amount"]) for r in rows[script.case_id]), Decimal(0))
        if db_sum.quantize(CENT) != Decimal(state.get("paid_total", "0")).quantize(CENT):
            check.fail(f"{script.loan_id}: db paid {db_sum} state {state.get('paid_total')}")
        balance = balances.get(script.case_id)
        if balance is None or balance.quantize(CENT) != Decimal(state["balance"]).quantize(CENT):
            check.fail(f"{script.loan_id}: db balance {balance} state {state['balance']}")
    return check


def contact_hours(items: list[Sent], zones: dict[str, str]) -> Check:
    check = Check()
    for item in items:
        zone = zones.get(item.to)
        if zone is None:
            check.fail(f"{item.sid}: sent to {item.to}, no chaos borrower")
            continue
        local = item.at.astimezone(ZoneInfo(zone)).time()
        if not WINDOW[0] <= local < WINDOW[1]:
            check.fail(f"{item.sid} {item.channel} at {local} in {zone}")
    return check


def no_sms_after_opt_out(items: list[Sent], scripts: list[Script]) -> Check:
    check = Check()
    opted = {s.phone: s.opted_out_at for s in scripts if s.opted_out_at is not None}
    for item in items:
        since = opted.get(item.to)
        if item.channel == "sms" and since is not None and item.at.timestamp() > since + SLACK:
            check.fail(f"{item.sid} to {item.to}: {item.at.timestamp() - since:.1f}s after STOP")
    return check


def _payload_text(attributes: dict[str, Any], name: str) -> str:
    payloads = (attributes.get(name) or {}).get("payloads") or []
    return " ".join(base64.b64decode(p.get("data", "")).decode(errors="replace") for p in payloads)


def scheduled_at(history: dict[str, Any], sid: str) -> datetime | None:
    """When the workflow scheduled the activity whose result carries ``sid`` (its decision)."""
    scheduled: dict[str, datetime] = {}
    for event in history.get("events", []):
        kind = event.get("eventType", "")
        attributes: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("Attributes")), {}
        )
        if kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            scheduled[str(event["eventId"])] = _rfc3339(event["eventTime"])
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED" and sid in _payload_text(
            attributes, "result"
        ):
            return scheduled.get(str(attributes.get("scheduledEventId")))
    return None


def receipts(attempts: list[sqlite3.Row]) -> set[str]:
    """Sids of thank-you receipts: transactional, not collection, so no pause applies."""
    return {
        row["provider_sid"]
        for row in attempts
        if row["provider_sid"] and str(row["idempotency_key"]).endswith("/thank-you")
    }


def no_contact_in_pauses(
    items: list[Sent],
    scripts: list[Script],
    histories: dict[str, dict[str, Any]] | None = None,
    receipt_sids: set[str] | None = None,
) -> tuple[Check, dict[str, int]]:
    """No collection contact decided while a pause ran. Counted apart: a send the workflow
    scheduled before the pause whose retry reached the provider during it, and receipts."""
    check = Check()
    apart = {"scheduled_before_the_pause": 0, "thank_you_receipts": 0}
    paused = {s.phone: s for s in scripts if s.pauses}
    for item in items:
        moment = item.at.timestamp()
        script = paused.get(item.to)
        if script is None:
            continue
        for start, end in script.pauses:
            if not start + SLACK < moment < end - SLACK:
                continue
            if item.sid in (receipt_sids or set()):
                apart["thank_you_receipts"] += 1
                continue
            decided = scheduled_at((histories or {}).get(script.loan_id, {}), item.sid)
            if decided is not None and decided.timestamp() < start:
                apart["scheduled_before_the_pause"] += 1
                continue
            check.fail(
                f"{item.sid} {item.channel} to {item.to} ({script.loan_id}, {script.kind}) "
                f"{moment - start:.1f}s into a pause of {end - start:.1f}s, scheduled "
                f"{'?' if decided is None else f'{decided.timestamp() - start:+.1f}s'} from start"
            )
    return check, apart


def in_pause(items: list[Sent], scripts: list[Script]) -> set[str]:
    """Loan ids with a send inside one of their pauses (their histories are needed)."""
    paused = {s.phone: s for s in scripts if s.pauses}
    found = set()
    for item in items:
        script = paused.get(item.to)
        if script is not None and any(
            start + SLACK < item.at.timestamp() < end - SLACK for start, end in script.pauses
        ):
            found.add(script.loan_id)
    return found
