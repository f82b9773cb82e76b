"""The invariants of a chaos run, from the outside: the sandbox outbox, the app database and
each case's ``state`` query. Each check returns a count of violations and a few examples."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from cli.dev_procs import rfc3339
from models.common import case_id_for
from models.settings import Settings
from tests.chaos.scenario import CENT, Script
from workers.codec import EncryptionCodec, keyring_for

WINDOW = (time(8, 0), time(21, 0))
SLACK = 1.0  # the outbox's date_created has whole seconds
LEDGER_SENT = ("sent", "delivered", "answered", "unanswered", "failed", "undelivered")
# A send decided just before a phone change may reach the provider a moment after it.
CHANGE_SLACK = 5.0
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
    # The ledger key from the StatusCallback URL Twilio was given; None: sent without one.
    key: str | None = None


def _generation(key: str) -> int:
    """``case-L-1/g2/reminder-0`` -> 2; a key without a generation is the first case's."""
    part = key.split("/")[1] if key.count("/") >= 2 else ""
    return int(part[1:]) if part.startswith("g") and part[1:].isdigit() else 1


def callback_key(url: str | None) -> str | None:
    if not url:
        return None
    keys = parse_qs(urlsplit(url).query).get("key")
    return keys[0] if keys else None


def outbox_items(outbox: dict[str, list[dict[str, Any]]]) -> list[Sent]:
    items = []
    for channel, kind, text in (("sms", "messages", "body"), ("call", "calls", "twiml")):
        for item in outbox.get(kind, []):
            at = parsedate_to_datetime(item["date_created"])
            key = callback_key(item.get("status_callback"))
            body = str(item.get(text) or "")
            items.append(Sent(item["sid"], channel, item["to"], body, at, key))
    return items


def money(raw: object) -> Decimal:
    return Decimal(str(raw))


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


def one_send_per_key(items: list[Sent]) -> Check:
    """Counted from what the provider holds, not from the ledger (whose unique key cannot
    double): the sends Twilio accepted, grouped by the ledger key each carried on its
    StatusCallback URL. Two sends with one key (to one number or to two) are a double contact,
    whatever the ledger row says; a send that carries no key is one the ledger cannot own."""
    check = Check()
    per_key: dict[str, list[Sent]] = defaultdict(list)
    for item in items:
        if item.key is None:
            check.fail(f"{item.sid} {item.channel} to {item.to}: sent without a ledger key")
            continue
        per_key[item.key].append(item)
    for key, sends in sorted(per_key.items()):
        if len(sends) > 1:
            numbers = sorted({s.to for s in sends})
            check.fail(f"{key}: {len(sends)} sends to {', '.join(numbers)}")
    return check


def ledger_matches_provider(items: list[Sent], attempts: list[Any]) -> tuple[Check, int]:
    """What the borrower received is what the ledger says: every send Twilio holds has its
    key's row marked sent (or later) with that very sid, never ``recorded``/``unknown``. Also
    the count of rows left ``unknown`` with no send at Twilio (a missed contact, allowed)."""
    check = Check()
    rows = {str(row["idempotency_key"]): row for row in attempts}
    sent_keys = set()
    for item in items:
        if item.key is None:
            continue
        sent_keys.add(item.key)
        row = rows.get(item.key)
        if row is None:
            check.fail(f"{item.key}: Twilio holds {item.sid}, the ledger has no row")
        elif str(row["status"]) not in LEDGER_SENT:
            check.fail(f"{item.key}: Twilio holds {item.sid}, the ledger says {row['status']}")
        elif row["provider_sid"] != item.sid:
            check.fail(f"{item.key}: Twilio holds {item.sid}, the ledger {row['provider_sid']}")
    unsent_unknown = sum(
        1 for k, r in rows.items() if str(r["status"]) == "unknown" and k not in sent_keys
    )
    return check, unsent_unknown


def current_phone_only(items: list[Sent], scripts: list[Script]) -> Check:
    """After a repeat overdue event changed the phone, nothing goes to the old number."""
    check = Check()
    changed = {s.phone: s for s in scripts if s.phone_changed_at is not None}
    for item in items:
        script = changed.get(item.to)
        since = script.phone_changed_at if script is not None else None
        if since is not None and item.at.timestamp() > since + CHANGE_SLACK:
            late = item.at.timestamp() - since
            check.fail(f"{item.sid} {item.channel} to the old number {late:.1f}s after the change")
    return check


def reopened_contacted(items: list[Sent], scripts: list[Script]) -> Check:
    """A reopened loan's new case contacts the borrower again (DESIGN §2: its ledger keys
    carry the generation): some send keyed by a later generation than the first must exist
    for each reopened case. Judged by the key on the send, not by clocks: the driver notes
    the reopen when the answer reaches it, and under load the new case's first message can
    be out before that (seed 13: the thank-you 0.4 s after the server started the case)."""
    check = Check()
    for script in scripts:
        if not script.reopened or script.reopened_at is None:
            continue
        prefix = f"{case_id_for(script.loan_id)}/g"
        after = [i for i in items if i.key and i.key.startswith(prefix) and _generation(i.key) > 1]
        if not after:
            check.fail(f"{script.loan_id}: reopened, but nothing was sent to the borrower since")
    return check


def payments_once(
    scripts: list[Script], states: dict[str, dict[str, Any]], db: dict[str, list[dict[str, Any]]]
) -> Check:
    check = Check()
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in db["payments"]:
        rows[row["case_id"]].append(row)
    balances = {row["case_id"]: money(row["balance"]) for row in db["cases"]}
    for script in scripts:
        state = states[script.loan_id]
        recorded = sorted(r["payment_ref"] for r in rows[script.case_id])
        in_state = sorted(p["payment_ref"] for p in state.get("payments", []))
        accepted = sorted(script.accepted_refs)
        final = [r for r in accepted if r in script.last_generation_refs()]
        if not (recorded == accepted and in_state == final):
            check.fail(f"{script.loan_id}: db {recorded} state {in_state} accepted {accepted}")
        db_sum = sum(
            (money(r["amount"]) for r in rows[script.case_id] if r["payment_ref"] in final),
            Decimal(0),
        )
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


@lru_cache(maxsize=1)
def _codec() -> EncryptionCodec:
    """The development payload key the chaos stack runs with: its histories are ciphertext."""
    return EncryptionCodec(keyring_for(Settings(env="development")))


def _payload_text(attributes: dict[str, Any], name: str) -> str:
    payloads = (attributes.get(name) or {}).get("payloads") or []
    plain = [_codec().decrypt(json_format.ParseDict(p, Payload())) for p in payloads]
    return " ".join(p.data.decode(errors="replace") for p in plain)


def scheduled_at(history: dict[str, Any], sid: str) -> datetime | None:
    """When the workflow scheduled the activity whose result carries ``sid`` (its decision).
    A lean run sends as a local activity: its marker holds the result and the time the
    worker scheduled it."""
    scheduled: dict[str, datetime] = {}
    for event in history.get("events", []):
        kind = event.get("eventType", "")
        attributes: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("Attributes")), {}
        )
        if kind == "EVENT_TYPE_MARKER_RECORDED":
            if (local := _local_scheduled_at(attributes, sid)) is not None:
                return local
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            scheduled[str(event["eventId"])] = rfc3339(event["eventTime"])
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED" and sid in _payload_text(
            attributes, "result"
        ):
            return scheduled.get(str(attributes.get("scheduledEventId")))
    return None


def _local_scheduled_at(attributes: dict[str, Any], sid: str) -> datetime | None:
    details = attributes.get("details") or {}
    if "data" not in details or sid not in _payload_text(details, "result"):
        return None
    raw = (details["data"].get("payloads") or [{}])[0].get("data", "")
    meta = json.loads(base64.b64decode(raw) or b"{}")
    when = meta.get("original_schedule_time") or {}
    if not when:
        return None
    return datetime.fromtimestamp(int(when["seconds"]) + int(when.get("nanos", 0)) / 1e9, UTC)


def receipts(attempts: list[dict[str, Any]]) -> set[str]:
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
