"""The demo for ``collectflow dev --demo``: field agents, twenty overdue loans, four borrowers.

Seeding goes through the same doors as production: agents into the app database (there is no
agent API), loans as overdue events through the HTTP API with the ``dev-system`` key. Then a
:class:`DemoPlayer` plays four borrowers against the running stack, each reacting to its case's
state as a person would: one pays after the first SMS, one presses 1 on the reminder call (the
sandbox posts the signed ``/gather`` webhook), one meets the collectors and agrees an
installment plan, one texts STOP. Every step is driven by the case state, so a restarted stack
simply carries on.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog

from activities.db import Database
from models.tables import FieldAgent

log = structlog.get_logger("collectflow.demo")

STRATEGY = "demo"
MARKER = "demo.json"
SYSTEM_KEY, OPERATOR_KEY = "dev-system", "dev-operator"
WINDOW_START, WINDOW_END = 8, 21  # the demo strategy's contact hours, borrower's local time

# Two regions, three collectors each; capacity is generous so every visit finds a pair.
AGENTS: dict[str, list[tuple[str, str]]] = {
    "hz-west": [("A-HZ-1", "周强"), ("A-HZ-2", "吴敏"), ("A-HZ-3", "郑伟")],
    "sf-bay": [("A-SF-1", "Maria Lopez"), ("A-SF-2", "Tom Baker"), ("A-SF-3", "Nina Patel")],
}
ZH_NAMES = ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴霞")
EN_NAMES = (
    "Alice Chen",
    "Brian Lee",
    "Carla Diaz",
    "David Kim",
    "Emma Stone",
    "Frank Ortiz",
    "Grace Hall",
    "Henry Ward",
    "Irene Cole",
    "Jack Moore",
)
# Real zones spread round the globe; the demo picks by their local hour at the moment of the run.
CANDIDATE_ZONES = (
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/Moscow",
    "Europe/Berlin",
    "Europe/London",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)

PAYER, IVR, PLAN, OPT_OUT = "DEMO-1001", "DEMO-1002", "DEMO-1003", "DEMO-1004"
SCRIPTED = {
    PAYER: "pays in full after the first SMS",
    IVR: "presses 1 on the reminder call, then keeps the promise",
    PLAN: "meets the collectors and agrees a 3-installment plan",
    OPT_OUT: "texts STOP after the first SMS",
}
LOAN_COUNT = 20
CLOSED_ZONE_LOANS = frozenset({"DEMO-1010", "DEMO-1020"})
TERMINAL = frozenset({"resolved", "settled", "legal", "written_off", "closed"})


class DemoError(RuntimeError):
    """Seeding failed; the message says what the API answered."""


# ---------------------------------------------------------------- time zones


@dataclass(frozen=True)
class DemoZones:
    open_zh: str
    open_en: str
    closed: str


def _local_hour(zone: str, now: datetime) -> float:
    local = now.astimezone(ZoneInfo(zone))
    return local.hour + local.minute / 60


def _etc_zone(utc_offset_hours: int) -> str:
    """``Etc/GMT-8`` is UTC+8: the POSIX sign is inverted."""
    if utc_offset_hours == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if utc_offset_hours > 0 else '+'}{abs(utc_offset_hours)}"


def _etc_zone_at(local_hour: int, now: datetime) -> str:
    offset = (local_hour - now.astimezone(UTC).hour + 12) % 24 - 12  # -12 .. +11
    return _etc_zone(offset)


def choose_zones(now: datetime) -> DemoZones:
    """Two zones whose contact window is open for hours yet, one where it is shut for hours."""
    # Open: at least 2.5 hours of window left, so a half-hour demo never crosses 21:00.
    open_zones = sorted(
        (z for z in CANDIDATE_ZONES if WINDOW_START + 1 <= _local_hour(z, now) < WINDOW_END - 2.5),
        key=lambda z: (z != "Asia/Shanghai", abs(_local_hour(z, now) - 13)),
    )
    closed_zones = sorted(
        (z for z in CANDIDATE_ZONES if 0 <= _local_hour(z, now) < WINDOW_START - 2.5),
        key=lambda z: abs(_local_hour(z, now) - 3),
    )
    open_zh = open_zones[0] if open_zones else _etc_zone_at(12, now)
    open_en = open_zones[1] if len(open_zones) > 1 else _etc_zone_at(15, now)
    if open_en == open_zh:
        open_en = _etc_zone_at(15 if _local_hour(open_zh, now) < 14 else 11, now)
    closed = closed_zones[0] if closed_zones else _etc_zone_at(3, now)
    return DemoZones(open_zh=open_zh, open_en=open_en, closed=closed)


# ---------------------------------------------------------------- loans


def demo_phone(loan_id: str) -> str:
    """A valid, unique number per demo loan: Chinese mobiles for zh-CN, US for en borrowers."""
    i = int(loan_id.removeprefix("DEMO-")) - 1001
    return f"+86138{20260000 + i:08d}" if i % 2 == 0 else f"+1415555{100 + i:04d}"


def demo_loans(now: datetime, zones: DemoZones) -> list[dict[str, Any]]:
    """Twenty overdue events: two regions, three zones, both locales, one to five days late."""
    loans = []
    for i in range(LOAN_COUNT):
        loan_id = f"DEMO-{1001 + i}"
        zh = i % 2 == 0
        zone = (
            zones.closed if loan_id in CLOSED_ZONE_LOANS else zones.open_zh if zh else zones.open_en
        )
        amount = Decimal(600 + 137 * i) + Decimal("0.50") * (i % 3)
        today = now.astimezone(ZoneInfo(zone)).date()
        borrower = {
            "id": f"B-{1001 + i}",
            "name": ZH_NAMES[i // 2] if zh else EN_NAMES[i // 2],
            "phone": demo_phone(loan_id),
            "timezone": zone,
            "locale": "zh-CN" if zh else "en",
            "region": "hz-west" if zh else "sf-bay",
            "address": f"杭州市西湖区文三路 {i + 1} 号"
            if zh
            else f"{i + 1} Market St, San Francisco",
            "consent": {"sms": True, "call": True},
        }
        loans.append(
            {
                "loan_id": loan_id,
                "currency": "CNY" if zh else "USD",
                "amount_overdue": str(amount),
                "outstanding_balance": str(amount * 4),
                "due_date": (today - timedelta(days=1 + i % 5)).isoformat(),
                "strategy": STRATEGY,
                "borrower": borrower,
            }
        )
    return loans


async def seed_agents(database_url: str) -> int:
    """Insert the demo field agents that are not there yet; returns how many were added."""
    database = Database(database_url)
    added = 0
    try:
        async with database.session() as session:
            for region, agents in AGENTS.items():
                for agent_id, name in agents:
                    if await session.get(FieldAgent, agent_id) is None:
                        session.add(
                            FieldAgent(id=agent_id, name=name, region=region, capacity_per_day=50)
                        )
                        added += 1
            await session.commit()
    finally:
        await database.dispose()
    return added


async def post_loans(api_url: str, loans: list[dict[str, Any]]) -> int:
    """Post each loan as an overdue event; returns how many cases started."""
    started = 0
    headers = {"Authorization": f"Bearer {SYSTEM_KEY}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        for loan in loans:
            response = await _post_retrying(http, "/v1/overdue-events", loan)
            if response.status_code != 202:
                raise DemoError(
                    f"POST /v1/overdue-events for {loan['loan_id']} answered "
                    f"{response.status_code}: {response.text[:300]}"
                )
            started += bool(response.json().get("started"))
    return started


async def _post_retrying(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], attempts: int = 5
) -> httpx.Response:
    for attempt in range(attempts):
        response = await http.post(path, json=body)
        if response.status_code not in (429, 503) or attempt == attempts - 1:
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Seeded:
    loans: list[str]
    zones: DemoZones
    fresh: bool


async def seed(api_url: str, data_dir: Path, now: datetime | None = None) -> Seeded:
    """Post the demo loans once per data directory (a marker file remembers them)."""
    marker = data_dir / MARKER
    if marker.exists():
        saved = json.loads(marker.read_text())
        return Seeded(loans=saved["loans"], zones=DemoZones(**saved["zones"]), fresh=False)
    now = now or datetime.now(UTC)
    zones = choose_zones(now)
    loans = demo_loans(now, zones)
    started = await post_loans(api_url, loans)
    loan_ids = [loan["loan_id"] for loan in loans]
    record = {"loans": loan_ids, "zones": zones.__dict__, "seeded_at": now.isoformat()}
    marker.write_text(json.dumps(record, indent=2))
    log.info("demo loans posted", cases_started=started, zones=zones.__dict__)
    return Seeded(loans=loan_ids, zones=zones, fresh=True)


# ---------------------------------------------------------------- the borrowers


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def _sent(state: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    return [
        r for r in state.get("contact_log", []) if r["channel"] == channel and r["provider_sid"]
    ]


class DemoPlayer:
    """Plays the scripted borrowers until each case is done or ``stop`` is set."""

    def __init__(self, api_url: str, sandbox_url: str, day_seconds: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.day = timedelta(seconds=day_seconds)
        self.tick = min(max(day_seconds / 4, 0.25), 5.0)
        self.done: set[str] = set()
        self.acted: set[str] = set()

    def run_in_thread(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: asyncio.run(self.run(stop)), name="demo-player", daemon=True
        )
        thread.start()
        return thread

    async def run(self, stop: threading.Event) -> None:
        async with (
            httpx.AsyncClient(base_url=self.api_url, timeout=30) as api,
            httpx.AsyncClient(base_url=self.sandbox_url, timeout=30) as sandbox,
        ):
            self._api, self._sandbox = api, sandbox
            while not stop.is_set() and len(self.done) < len(SCRIPTED):
                for loan_id in SCRIPTED:
                    if loan_id in self.done or stop.is_set():
                        continue
                    try:
                        await self._step(loan_id)
                    except (httpx.HTTPError, KeyError, ValueError) as exc:
                        log.warning("demo borrower step failed", loan_id=loan_id, error=repr(exc))
                await asyncio.sleep(self.tick)
        if len(self.done) == len(SCRIPTED):
            log.info("demo borrowers have played their parts")

    async def _step(self, loan_id: str) -> None:
        response = await self._api.get(f"/v1/cases/{loan_id}", headers=_auth(OPERATOR_KEY))
        if response.status_code != 200:
            return
        state: dict[str, Any] = response.json()
        if state["stage"] in TERMINAL:
            self.done.add(loan_id)
            log.info("demo case finished", loan_id=loan_id, stage=state["stage"])
            return
        if loan_id == PAYER:
            await self._pay_after_first_sms(loan_id, state)
        elif loan_id == IVR:
            await self._press_one(loan_id, state)
        elif loan_id == PLAN:
            await self._plan_at_visit(loan_id, state)
        elif loan_id == OPT_OUT:
            await self._opt_out(loan_id, state)

    async def _pay_after_first_sms(self, loan_id: str, state: dict[str, Any]) -> None:
        if _sent(state, "sms"):
            await self._pay(loan_id, f"{loan_id}-P1", state["balance"], "paid after the first SMS")

    async def _press_one(self, loan_id: str, state: dict[str, Any]) -> None:
        calls = _sent(state, "call")
        pending = [p for p in state.get("promises", []) if p["status"] == "pending"]
        if pending:
            due_at = _parse(pending[0]["due_at"])
            if due_at is not None and datetime.now(UTC) >= due_at - self.day:
                await self._pay(loan_id, f"{loan_id}-P1", pending[0]["amount"], "kept the promise")
            return
        if not calls or f"{loan_id}:pressed" in self.acted:
            return
        sid = calls[0]["provider_sid"]
        response = await self._sandbox.post(f"/sandbox/calls/{sid}/press", json={"digits": "1"})
        if response.status_code == 400:  # no <Gather action> in the TwiML: name the webhook
            url = f"{self.api_url}/webhooks/twilio/gather?case_id={state['case_id']}"
            response = await self._sandbox.post(
                f"/sandbox/calls/{sid}/press", json={"digits": "1", "url": url}
            )
        if response.status_code == 200 and response.json().get("webhook_status") == 200:
            self.acted.add(f"{loan_id}:pressed")
            log.info("demo borrower pressed 1 on the call", loan_id=loan_id)

    async def _plan_at_visit(self, loan_id: str, state: dict[str, Any]) -> None:
        stage, now = state["stage"], datetime.now(UTC)
        visits = state.get("visits", [])
        visit = visits[-1] if visits else None
        if stage == "visit" and visit is not None and visit.get("outcome") is None:
            scheduled = _parse(visit.get("scheduled_at"))
            if scheduled is None:
                proposed = _parse(visit["proposed_at"]) or now
                at = max(proposed, now + self.day / 2)
                collectors = visit.get("collectors") or [a for a, _ in AGENTS["hz-west"][:2]]
                body = {"at": at.isoformat(), "collectors": collectors}
                await self._act(loan_id, "visits", body, "operator confirmed the visit")
            elif scheduled <= now:
                body = {"outcome": "met", "notes": "Lost a job in the autumn; calm talk."}
                await self._act(loan_id, "visits/outcome", body, "collectors met the borrower")
        elif stage == "negotiating":
            body = {
                "reason": "unemployment",
                "monthly_income": "3000.00",
                "essential_expenses": "2200.00",
                "result": "installment_plan",
                "plan": {"count": 3, "frequency_days": 2, "first_due_in_days": 1},
            }
            await self._act(loan_id, "negotiation", body, "installment plan agreed")
        elif stage == "follow_up" and state.get("plan"):
            for item in state["plan"]["installments"]:
                due_at = _parse(item["due_at"])
                if item["status"] == "pending" and due_at and now >= due_at - self.day / 2:
                    ref = f"{loan_id}-I{state['plan']['plan_no']}-{item['index']}"
                    await self._pay(loan_id, ref, item["amount"], f"installment {item['index']}")
                    break

    async def _opt_out(self, loan_id: str, state: dict[str, Any]) -> None:
        if "sms" in state.get("opted_out", []):
            self.done.add(loan_id)
            log.info("demo borrower opted out of SMS", loan_id=loan_id)
            return
        if not _sent(state, "sms") or f"{loan_id}:stop" in self.acted:
            return
        body = {
            "from": demo_phone(loan_id),
            "body": "STOP",
            "url": f"{self.api_url}/webhooks/twilio/inbound",
        }
        response = await self._sandbox.post("/sandbox/inbound", json=body)
        if response.status_code == 200 and response.json().get("webhook_status") == 200:
            self.acted.add(f"{loan_id}:stop")
            log.info("demo borrower texted STOP", loan_id=loan_id)

    async def _pay(self, loan_id: str, ref: str, amount: str, why: str) -> None:
        if ref in self.acted:
            return
        body = {"payment_ref": ref, "amount": amount, "paid_at": datetime.now(UTC).isoformat()}
        response = await self._api.post(
            f"/v1/cases/{loan_id}/payments", json=body, headers=_auth(SYSTEM_KEY)
        )
        if response.status_code == 200:
            self.acted.add(ref)
            log.info("demo payment", loan_id=loan_id, amount=amount, why=why)
        else:
            log.warning("demo payment refused", loan_id=loan_id, status=response.status_code)

    async def _act(self, loan_id: str, path: str, body: dict[str, Any], what: str) -> None:
        response = await self._api.post(
            f"/v1/cases/{loan_id}/{path}", json=body, headers=_auth(OPERATOR_KEY)
        )
        if response.status_code == 200:
            log.info(f"demo: {what}", loan_id=loan_id)
        else:
            detail = response.text[:200]
            log.warning("demo action refused", loan_id=loan_id, action=path, detail=detail)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
