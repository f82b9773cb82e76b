"""Stand-in activities registered under the real activity names, recording every call.

For workflow-logic tests on the time-skipping server only; integration tests use the real
activities against SQL and the Twilio sandbox.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.empty_pb2 import Empty
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.borrower_contacts import records_of
from activities.vault import outgoing
from activities.vault.store import Vault
from models import activities as act
from models.case import ContactOutcome
from models.common import Channel
from workers.temporal import build_workers


@dataclass
class Sent:
    channel: str
    key: str
    to: str
    text: str
    at: datetime
    sid: str


@dataclass
class StandIns:
    invalid_numbers: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    alerts: list[act.SupervisorAlert] = field(default_factory=list)
    projections: list[act.CaseProjection] = field(default_factory=list)
    legal: list[act.LegalHandoffInput] = field(default_factory=list)
    agents: list[str] = field(default_factory=lambda: ["A-1", "A-2"])
    # Given, a case without personal data in its input (DESIGN §10) is sent to the number and
    # name the vault holds, as the real activity does; without, ``to`` is what the case said.
    vault: Vault | None = None
    client: Client | None = None  # set by running_workers: the server whose clock sends follow
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def _now(self) -> datetime:
        """When the send happens on the server's clock. A contact is a local activity, whose
        scheduled time is the worker's wall clock; the time-skipping server's clock runs ahead
        of it, so its time is asked for (the dev server has no test service: wall clock)."""
        if self.client is not None:
            try:
                stamp = await self.client.test_service.get_current_time(Empty())
                return stamp.time.ToDatetime(tzinfo=UTC)
            except RPCError:
                self.client = None
        return datetime.now(UTC)

    def _send(self, channel: str, key: str, to: str, text: str, at: datetime) -> act.ContactResult:
        if to in self.invalid_numbers:
            raise ApplicationError(
                f"The 'To' number {to} is not a valid phone number.",
                "21211",
                type=act.ERROR_CONTACT_REJECTED,
                non_retryable=True,
            )
        if any(s.key == key for s in self.sent):  # exactly-once per idempotency key
            previous = next(s for s in self.sent if s.key == key)
            return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=previous.sid)
        prefix = "SM" if channel == "sms" else "CA"
        sid = f"{prefix}{next(self._ids):032d}"
        self.sent.append(Sent(channel, key, to, text, at, sid))
        return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=sid)

    async def _resolved(
        self, channel: str, key: str, borrower_id: str | None, to: str, text: str
    ) -> act.ContactResult:
        if self.vault is None:
            return self._send(channel, key, to, text, await self._now())
        out = await outgoing.prepare(self.vault, Channel(channel), borrower_id, to, text)
        if isinstance(out, outgoing.Blocked):
            return act.ContactResult(outcome=ContactOutcome.BLOCKED, reason=out.reason)
        return self._send(channel, key, out.to, out.text, await self._now())

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=act.SEND_SMS)
        async def send_sms(inp: act.SendSmsInput) -> act.ContactResult:
            return await self._resolved("sms", inp.key, inp.borrower_id, inp.to, inp.body)

        @activity.defn(name=act.PLACE_CALL)
        async def place_call(inp: act.PlaceCallInput) -> act.ContactResult:
            return await self._resolved("call", inp.key, inp.borrower_id, inp.to, inp.message)

        @activity.defn(name=act.ASSIGN_FIELD_AGENTS)
        async def assign(inp: act.AssignAgentsInput) -> act.AssignAgentsResult:
            if len(self.agents) < inp.count:
                return act.AssignAgentsResult(reason=f"no two collectors free in {inp.region}")
            return act.AssignAgentsResult(agents=self.agents[: inp.count])

        @activity.defn(name=act.NOTIFY_SUPERVISOR)
        async def notify(inp: act.SupervisorAlert) -> None:
            self.alerts.append(inp)

        @activity.defn(name=act.SYNC_CASE)
        async def sync(inp: act.CaseProjection) -> act.SyncResult:
            self.projections.append(inp)
            return act.SyncResult.of(inp.events)

        @activity.defn(name=act.BORROWER_CONTACTS)
        async def borrower_contacts(inp: act.BorrowerContactsInput) -> act.BorrowerContacts:
            # What the real one reads from case_events, read from the projections synced here.
            rows = [
                (p.case_id, e.at, e.details)
                for p in self.projections
                if p.borrower_id == inp.borrower_id and p.case_id != inp.case_id
                for e in p.events
                if e.kind is act.CaseEventKind.CONTACT and e.at > inp.since
            ]
            rows.sort(key=lambda row: row[1])
            return act.BorrowerContacts(contacts=records_of(rows, inp.since))

        @activity.defn(name=act.HAND_OFF_TO_LEGAL)
        async def legal(inp: act.LegalHandoffInput) -> act.LegalHandoffResult:
            self.legal.append(inp)
            return act.LegalHandoffResult(reference=f"LEGAL-{inp.case_id}")

        return [send_sms, place_call, assign, notify, sync, borrower_contacts, legal]

    def sms(self) -> list[Sent]:
        return [s for s in self.sent if s.channel == "sms"]

    def calls(self) -> list[Sent]:
        return [s for s in self.sent if s.channel == "call"]


@asynccontextmanager
async def running_workers(
    client: Client,
    task_queue: str,
    messaging_queue: str,
    stand_ins: StandIns,
    activities: list[Callable[..., Any]] | None = None,
) -> Any:
    """Workers with the stand-ins' activities, or with ``activities`` when given."""
    stand_ins.client = client
    workers = build_workers(
        client,
        task_queue=task_queue,
        messaging_task_queue=messaging_queue,
        activities=stand_ins.activities() if activities is None else activities,
    )
    async with workers[0], workers[1]:
        yield workers
