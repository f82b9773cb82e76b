"""The real activities against the Twilio sandbox and real databases (SQLite and PostgreSQL).

Activities run through ``ActivityEnvironment`` (so ``activity.info()`` works) and, at the end,
under the case workflow on the time-skipping server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from sqlmodel import SQLModel, col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.case_activities import CaseActivities
from activities.contacts import ContactLedger, mask_phone
from activities.db import Database, upgrade_database
from activities.exactly_once import (
    ERROR_PROVIDER_MISCONFIGURED,
    ERROR_PROVIDER_UNAVAILABLE,
    ERROR_PROVIDER_UNSETTLED,
)
from activities.twilio_client import TwilioMessenger
from models import activities as act
from models import case as c
from models import tables as t
from models.common import Actor, Channel, Role, Stage, StrategyRef, case_id_for
from models.settings import Settings
from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import WebhookRecorder, serve, signature_valid
from tests import factories
from tests.workflow.helpers import advance_until
from workers.temporal import build_workers
from workflows.case import CollectionCase

# twilio 9.13's aiohttp client uses aiohttp's deprecated BasicAuth / `auth=`; not our code.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)

SID = "AC" + "c" * 32
TOKEN = "activities-test-token"
FROM = "+15005550006"
PHONE = "+8613800138000"
SMS_TEXT = "【汇流金融】王芳您好，您有一笔1530.50CNY的款项已于2026-11-20到期。回复TD退订"
CALL_TEXT = (
    "王芳您好，这里是汇流金融。您有1530.50CNY的款项已逾期。承诺14天内还款请按1，需要我们回电请按2。"
)
OPERATOR = Actor(id="op-1", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sup-1", role=Role.SUPERVISOR)
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)
T0 = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)


# ---------------------------------------------------------------- fixtures and helpers


@pytest_asyncio.fixture(scope="module")
async def hooks() -> AsyncIterator[tuple[WebhookRecorder, str]]:
    """Stands where the API would: receives the sandbox's signed status callbacks."""
    recorder = WebhookRecorder()
    async with serve(recorder.app) as url:
        yield recorder, url


@pytest_asyncio.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    config = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
    async with serve(create_sandbox_app(config)) as url:
        yield url


@pytest_asyncio.fixture
async def control(
    sandbox_url: str, hooks: tuple[WebhookRecorder, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's own endpoints; faults, outbox and recorded webhooks reset per test."""
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        await client.delete("/sandbox/faults")
        await client.delete("/sandbox/outbox")
        hooks[0].clear()
        yield client


def make_settings(sandbox_url: str, hooks_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "development",
        "twilio_account_sid": SID,
        "twilio_auth_token": TOKEN,
        "twilio_base_url": sandbox_url,
        "twilio_from_number": FROM,
        "twilio_timeout_seconds": 2.0,  # far below the sandbox stalls (5 s), above a slow CI answer
        "twilio_reconcile_settle_seconds": 1.0,
        "public_base_url": hooks_url,
        # The provider's pace is its own test (tests/unit/test_pace.py): here a second send
        # must not wait a second for its slot, or an unsettled attempt settles meanwhile.
        "messaging_rate_per_second": None,
    }
    return Settings(**(values | changes))


def make_activities(db: Database, settings: Settings, token: str = TOKEN) -> CaseActivities:
    messenger = TwilioMessenger(
        SID,
        token,
        settings.twilio_base_url,
        settings.twilio_from_number,
        settings.public_base_url,
        settings.twilio_timeout_seconds,
    )
    return CaseActivities(db, messenger, settings)


@pytest_asyncio.fixture
async def acts(
    database: Database,
    sandbox_url: str,
    hooks: tuple[WebhookRecorder, str],
    control: httpx.AsyncClient,
) -> AsyncIterator[CaseActivities]:
    activities = make_activities(database, make_settings(sandbox_url, hooks[1]))
    yield activities
    await activities.aclose()


async def run(fn: Any, arg: Any) -> Any:
    return await ActivityEnvironment().run(fn, arg)


async def run_until_settled(fn: Any, arg: Any, tries: int = 40) -> Any:
    """Run an activity as Temporal would retry it while Twilio's record settles."""
    for _ in range(tries):
        try:
            return await run(fn, arg)
        except ApplicationError as exc:
            if exc.type != ERROR_PROVIDER_UNSETTLED:
                raise
        await asyncio.sleep(0.25)
    raise AssertionError("Twilio's record never settled")


async def outbox(control: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = (await control.get("/sandbox/outbox")).json()
    return result


def new_case_id() -> str:
    return case_id_for(f"L-{uuid.uuid4().hex[:8]}")


def sms(case_id: str, step: str = "reminder-0", body: str = SMS_TEXT) -> act.SendSmsInput:
    return act.SendSmsInput(
        key=f"{case_id}/{step}",
        case_id=case_id,
        loan_id=case_id.removeprefix("case-"),
        to=PHONE,
        body=body,
        purpose=step,
        locale="zh-CN",
    )


async def attempts(db: Database, case_id: str) -> list[t.ContactAttempt]:
    async with db.session() as session:
        rows = await session.exec(
            select(t.ContactAttempt)
            .where(t.ContactAttempt.case_id == case_id)
            .order_by(col(t.ContactAttempt.id))
        )
        return list(rows.all())


async def seed_case(db: Database, inp: c.CaseInput, agents: int = 0) -> list[str]:
    """The rows the loan system and HR own: borrower, loan and ``agents`` free collectors in
    the borrower's region. The ids of the collectors."""
    b, loan = inp.borrower, inp.loan
    agent_ids = [f"A-{uuid.uuid4().hex[:6]}" for _ in range(agents)]
    async with db.session() as session:
        session.add(
            t.Borrower(
                id=b.id,
                name=b.name,
                phone=b.phone,
                timezone=b.timezone,
                locale=b.locale,
                region=b.region,
                address=b.address,
                consent_sms=b.consent.sms,
                consent_call=b.consent.call,
            )
        )
        await session.flush()
        session.add(
            t.Loan(
                loan_id=loan.loan_id,
                borrower_id=b.id,
                currency=loan.currency,
                amount_overdue=loan.amount_overdue,
                outstanding_balance=loan.outstanding_balance,
                due_date=loan.due_date,
                strategy_id=inp.strategy.id,
            )
        )
        for agent_id in agent_ids:
            session.add(t.FieldAgent(id=agent_id, name=agent_id, region=b.region))
        await session.commit()
    return agent_ids


# ---------------------------------------------------------------- SMS and calls


async def test_sms_reaches_the_outbox_with_the_exact_text_and_callbacks_are_signed(
    acts: CaseActivities,
    database: Database,
    control: httpx.AsyncClient,
    hooks: tuple[WebhookRecorder, str],
) -> None:
    """An SMS goes through the real SDK: the outbox holds the borrower's exact text, the ledger
    the SID, and the sandbox's status callbacks come to our URL for the case, signed."""
    case_id = new_case_id()
    result = await run(acts.send_sms, sms(case_id))
    assert result.outcome is c.ContactOutcome.SENT and result.provider_sid.startswith("SM")
    (message,) = (await outbox(control))["messages"]
    assert (message["sid"], message["to"], message["from"]) == (result.provider_sid, PHONE, FROM)
    assert message["body"] == SMS_TEXT
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid, row.body) == (
        t.AttemptStatus.SENT,
        message["sid"],
        SMS_TEXT,
    )
    posts = await hooks[0].wait_for(lambda r: r.form.get("MessageStatus") == "delivered")
    (delivered,) = posts
    assert delivered.path == "/webhooks/twilio/status"
    query = {"case_id": [case_id], "key": [f"{case_id}/reminder-0"]}
    assert parse_qs(urlsplit(delivered.url).query) == query
    assert delivered.form["MessageSid"] == result.provider_sid
    assert signature_valid(TOKEN, delivered)


async def test_call_plays_the_exact_text_and_listens_for_a_key(
    acts: CaseActivities, control: httpx.AsyncClient, hooks: tuple[WebhookRecorder, str]
) -> None:
    """A call carries TwiML that says the message in the borrower's language and gathers one
    key for the API's gather webhook; its progress callbacks arrive signed."""
    case_id = new_case_id()
    inp = act.PlaceCallInput(
        key=f"{case_id}/reminder-1",
        case_id=case_id,
        loan_id=case_id.removeprefix("case-"),
        to=PHONE,
        message=CALL_TEXT,
        locale="zh-CN",
        purpose="reminder-1",
    )
    result = await run(acts.place_call, inp)
    assert result.outcome is c.ContactOutcome.SENT and result.provider_sid.startswith("CA")
    (call,) = (await outbox(control))["calls"]
    twiml = ET.fromstring(call["twiml"])
    gather = twiml.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    action = urlsplit(gather.get("action", ""))
    assert action.path == "/webhooks/twilio/gather"
    assert parse_qs(action.query) == {"case_id": [case_id], "locale": ["zh-CN"]}
    said = [say.text or "" for say in twiml.iter("Say")]
    assert said[0].startswith(CALL_TEXT) and said[-1] == CALL_TEXT
    assert {say.get("language") for say in twiml.iter("Say")} == {"zh-CN"}
    done = await hooks[0].wait_for(lambda r: r.form.get("CallStatus") == "completed")
    assert all(signature_valid(TOKEN, post) for post in done)
    assert all(post.form["CallSid"] == result.provider_sid for post in done)


async def test_the_same_key_twice_sends_once(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Exactly once: a second run for the same idempotency key answers from the ledger."""
    case_id = new_case_id()
    first = await run(acts.send_sms, sms(case_id))
    second = await run(acts.send_sms, sms(case_id, body="a different text"))
    assert second == first
    assert len((await outbox(control))["messages"]) == 1
    assert len(await attempts(database, case_id)) == 1


async def test_two_server_errors_then_success_sends_one_message(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Injected 5xx twice: each attempt raises a retryable error and frees its key, so the
    third (Temporal's retry) sends; the outbox ends with exactly one message."""
    await control.post("/sandbox/faults", json={"fail_next": 2, "status": 503})
    case_id = new_case_id()
    for _ in range(2):
        with pytest.raises(ApplicationError) as caught:
            await run(acts.send_sms, sms(case_id))
        assert caught.value.type == ERROR_PROVIDER_UNAVAILABLE
        assert not caught.value.non_retryable
        assert await attempts(database, case_id) == []
    result = await run(acts.send_sms, sms(case_id))
    assert result.outcome is c.ContactOutcome.SENT
    assert [m["sid"] for m in (await outbox(control))["messages"]] == [result.provider_sid]


async def test_invalid_number_is_rejected_without_retry(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Invalid number: a non-retryable ContactRejected carrying 21211, recorded; asking again
    (even once the number would work) repeats the rejection and sends nothing."""
    await control.post("/sandbox/faults", json={"invalid_numbers": [PHONE]})
    case_id = new_case_id()
    with pytest.raises(ApplicationError) as caught:
        await run(acts.send_sms, sms(case_id))
    error = caught.value
    assert (error.type, error.non_retryable, error.details) == (
        act.ERROR_CONTACT_REJECTED,
        True,
        ("21211",),
    )
    assert "not a valid phone number" in error.message
    (row,) = await attempts(database, case_id)
    assert (row.status, row.error_code, row.reason) == (
        t.AttemptStatus.REJECTED,
        "21211",
        error.message,
    )
    await control.delete("/sandbox/faults")
    with pytest.raises(ApplicationError) as again:
        await run(acts.send_sms, sms(case_id))
    assert (again.value.type, again.value.details) == (act.ERROR_CONTACT_REJECTED, ("21211",))
    assert (await outbox(control))["messages"] == []


class CrashAfterProviderCall(ContactLedger):
    """The worker "dies" once between the provider's answer and the record."""

    crashed = False

    async def record_sent(self, attempt_id: int, provider_sid: str) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("worker killed after the provider call")
        await super().record_sent(attempt_id, provider_sid)


async def test_crash_between_provider_call_and_record_is_reconciled_not_resent(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Killed after Twilio accepted but before the record: the retry finds the message in
    Twilio's list, records its sid and answers SENT; nothing is sent again."""
    acts.ledger = CrashAfterProviderCall(database)
    case_id = new_case_id()
    with pytest.raises(RuntimeError, match="worker killed"):
        await run(acts.send_sms, sms(case_id))
    (row,) = await attempts(database, case_id)
    assert row.status is t.AttemptStatus.RECORDED
    (message,) = (await outbox(control))["messages"]
    retry = await run_until_settled(acts.send_sms, sms(case_id))
    assert retry.outcome is c.ContactOutcome.SENT and retry.provider_sid == message["sid"]
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
    assert len((await outbox(control))["messages"]) == 1


async def test_timeout_after_the_request_is_found_at_twilio_and_not_resent(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """Twilio took the message but the answer timed out: the activity finds it in Twilio's
    list and answers SENT with its sid; a retry answers the same; one message."""
    plan = {"timeout_next": 1, "timeout_commits": True, "timeout_seconds": 5}
    await control.post("/sandbox/faults", json=plan)
    case_id = new_case_id()
    result = await run_until_settled(acts.send_sms, sms(case_id))
    (message,) = (await outbox(control))["messages"]
    assert (result.outcome, result.provider_sid) == (c.ContactOutcome.SENT, message["sid"])
    again = await run(acts.send_sms, sms(case_id))
    assert again.provider_sid == message["sid"]
    (row,) = await attempts(database, case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, message["sid"])
    assert len((await outbox(control))["messages"]) == 1


async def test_our_misconfiguration_is_retryable_and_frees_the_key(
    database: Database,
    sandbox_url: str,
    hooks: tuple[WebhookRecorder, str],
    control: httpx.AsyncClient,
) -> None:
    """Wrong credentials are our fault: a retryable error (an operator fixes the settings and
    the retry sends), no fallback, nothing left in the ledger."""
    settings = make_settings(sandbox_url, hooks[1])
    broken = make_activities(database, settings, token="wrong-token")
    case_id = new_case_id()
    try:
        with pytest.raises(ApplicationError) as caught:
            await run(broken.send_sms, sms(case_id))
    finally:
        await broken.messenger.aclose()
    assert (caught.value.type, caught.value.non_retryable) == (ERROR_PROVIDER_MISCONFIGURED, False)
    assert await attempts(database, case_id) == []
    fixed = make_activities(database, settings)
    try:
        assert (await run(fixed.send_sms, sms(case_id))).outcome is c.ContactOutcome.SENT
    finally:
        await fixed.messenger.aclose()


def test_phone_numbers_are_masked_for_logs() -> None:
    """Logs can tell numbers apart without holding them."""
    assert mask_phone(PHONE) == "+86*******8000"


# ---------------------------------------------------------------- field agents


async def add_agents(db: Database, region: str, *agents: tuple[str, int, bool]) -> None:
    async with db.session() as session:
        for agent_id, capacity, active in agents:
            session.add(
                t.FieldAgent(
                    id=agent_id,
                    name=agent_id,
                    region=region,
                    capacity_per_day=capacity,
                    active=active,
                )
            )
        await session.commit()


async def test_two_free_collectors_of_the_region_least_loaded_first(
    acts: CaseActivities, database: Database
) -> None:
    """Two active agents of the region with capacity that day, least loaded first; a retry
    returns the same agents and books nothing more."""
    day = date(2026, 12, 10)
    await add_agents(
        database,
        "hz-west",
        ("A-busy", 2, True),
        ("A-free", 2, True),
        ("A-full", 1, True),
        ("A-away", 5, False),
    )
    await add_agents(database, "hz-east", ("B-other", 5, True))
    async with database.session() as session:
        for agent_id in ("A-busy", "A-full"):
            session.add(t.AgentAssignment(agent_id=agent_id, case_id="case-earlier", visit_day=day))
        await session.commit()
    inp = act.AssignAgentsInput(case_id="case-L-1", region="hz-west", visit_day=day)
    first = await run(acts.assign_field_agents, inp)
    assert first == act.AssignAgentsResult(agents=["A-free", "A-busy"])
    assert await run(acts.assign_field_agents, inp) == first
    async with database.session() as session:
        booked = await session.exec(
            select(t.AgentAssignment.agent_id).where(t.AgentAssignment.case_id == "case-L-1")
        )
        assert sorted(booked.all()) == ["A-busy", "A-free"]


async def test_too_few_free_collectors_says_so_and_books_nobody(
    acts: CaseActivities, database: Database
) -> None:
    """One collector free where two are needed: no agents, a reason the supervisor can read."""
    day = date(2026, 12, 11)
    await add_agents(database, "hz-north", ("N-1", 1, True), ("N-2", 1, True))
    taken = act.AssignAgentsInput(case_id="case-L-2", region="hz-north", visit_day=day, count=1)
    assert (await run(acts.assign_field_agents, taken)).agents == ["N-1"]
    inp = act.AssignAgentsInput(case_id="case-L-3", region="hz-north", visit_day=day)
    result = await run(acts.assign_field_agents, inp)
    assert result.agents == []
    assert result.reason == "only 1 collector free in region hz-north on 2026-12-11; 2 needed"
    nobody = act.AssignAgentsInput(case_id="case-L-4", region="nowhere", visit_day=day)
    assert (await run(acts.assign_field_agents, nobody)).reason.startswith("only 0 collectors")
    async with database.session() as session:
        rows = await session.exec(
            select(t.AgentAssignment).where(
                col(t.AgentAssignment.case_id).in_(["case-L-3", "case-L-4"])
            )
        )
        assert rows.all() == []


# ---------------------------------------------------------------- the read model


def projection(
    inp: c.CaseInput, last_seq: int, *, stage: Stage = Stage.FOLLOW_UP, payments: int = 1
) -> act.CaseProjection:
    """A case in follow-up with a met visit, a broken promise, a plan of 3 and payments."""
    case_id = case_id_for(inp.loan.loan_id)
    amounts = [Decimal("510.16"), Decimal("510.16"), Decimal("510.18")]
    plan = c.InstallmentPlan(
        plan_no=1,
        frequency_days=14,
        total=Decimal("1530.50"),
        paid_before=Decimal("0"),
        created_at=T0,
        installments=[
            c.Installment(
                index=i,
                due_at=T0 + timedelta(days=14 * i),
                due_date=(T0 + timedelta(days=14 * i)).date(),
                amount=amount,
                status="kept" if i <= payments else "pending",
            )
            for i, amount in enumerate(amounts, start=1)
        ],
    )
    paid = [
        c.PaymentRecord(
            payment_ref=f"{case_id}-P-{i}",
            amount=amounts[i - 1],
            paid_at=T0 + timedelta(days=14 * i),
            recorded_at=T0 + timedelta(days=14 * i, seconds=1),
            actor=SYSTEM,
        )
        for i in range(1, payments + 1)
    ]
    balance = Decimal("1530.50") - sum((p.amount for p in paid), start=Decimal("0"))
    return act.CaseProjection(
        case_id=case_id,
        loan_id=inp.loan.loan_id,
        borrower_id=inp.borrower.id,
        region=inp.borrower.region,
        stage=stage,
        currency="CNY",
        amount_overdue=Decimal("1530.50"),
        balance=balance,
        days_past_due=30,
        strategy=StrategyRef(id="default", version=1),
        next_action=None if stage.terminal else c.NextAction(kind="commitment_check", at=T0),
        assigned_agents=["A-1", "A-2"],
        visits=[
            c.VisitRecord(
                visit_no=1,
                proposed_at=T0,
                scheduled_at=T0 + timedelta(hours=1),
                collectors=["A-1", "A-2"],
                outcome=c.VisitOutcome.MET,
                notes="lost job in May",
                recorded_by=OPERATOR,
            )
        ],
        plan=plan,
        promises=[
            c.Promise(
                seq=1, due_at=T0, due_date=T0.date(), amount=Decimal("1530.50"), status="broken"
            )
        ],
        negotiations=[
            c.NegotiationRecord(
                seq=1,
                at=T0,
                actor=OPERATOR,
                reason=c.DefaultReason.UNEMPLOYMENT,
                monthly_income=Decimal("4200.00"),
                essential_expenses=Decimal("3100.00"),
                result=c.NegotiationResult.INSTALLMENT_PLAN,
                details={"notes": "plan of 3"},
            )
        ],
        payments=paid,
        events=[
            act.CaseEvent(
                seq=seq,
                at=T0 + timedelta(minutes=seq),
                stage=stage,
                kind=act.CaseEventKind.NOTE,
                actor=OPERATOR,
                summary=f"event {seq}",
                details={"n": str(seq)},
            )
            for seq in range(max(1, last_seq - 2), last_seq + 1)
        ],
    )


# Each table of the read model and its natural key, by which its rows are compared.
READ_MODEL: dict[type[SQLModel], tuple[str, ...]] = {
    t.Case: ("case_id",),
    t.CaseEvent: ("seq",),
    t.Visit: ("visit_no",),
    t.Negotiation: ("seq",),
    t.Promise: ("seq",),
    t.Installment: ("plan_no", "index"),
    t.Payment: ("payment_ref",),
}
STAMPS = {"id", "created_at", "updated_at"}


async def read_model(db: Database, case_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the case in natural-key order, without surrogate ids and write stamps."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    async with db.session() as session:
        for table, key in READ_MODEL.items():
            model: Any = table
            order = [getattr(model, column) for column in key]
            rows = await session.exec(
                select(table).where(model.case_id == case_id).order_by(*order)
            )
            snapshot[str(table.__tablename__)] = [
                {k: v for k, v in r.model_dump().items() if k not in STAMPS} for r in rows
            ]
    return snapshot


async def test_sync_case_is_idempotent_and_never_winds_back(
    acts: CaseActivities, database: Database
) -> None:
    """The same projection twice leaves the same rows; a newer one moves them on (and marks
    the loan paid when the case resolves); the older one replayed afterwards changes nothing."""
    inp = factories.case_input()
    await seed_case(database, inp)
    case_id = case_id_for(inp.loan.loan_id)
    first = projection(inp, last_seq=3)
    await run(acts.sync_case, first)
    once = await read_model(database, case_id)
    await run(acts.sync_case, first)
    assert await read_model(database, case_id) == once
    (case,) = once["cases"]
    assert (case["stage"], case["balance"], case["last_event_seq"]) == (
        Stage.FOLLOW_UP,
        Decimal("1020.34"),
        3,
    )
    assert [e["seq"] for e in once["case_events"]] == [1, 2, 3]
    assert [(i["index"], i["status"], i["paid_amount"]) for i in once["installments"]] == [
        (1, t.DueStatus.KEPT, Decimal("510.16")),
        (2, t.DueStatus.PENDING, Decimal("0.00")),
        (3, t.DueStatus.PENDING, Decimal("0.00")),
    ]

    done = projection(inp, last_seq=6, stage=Stage.RESOLVED, payments=3)
    await run(acts.sync_case, done)
    await run(acts.sync_case, first)  # a stale retry arriving late
    final = await read_model(database, case_id)
    (case,) = final["cases"]
    assert (case["stage"], case["balance"], case["last_event_seq"]) == (
        Stage.RESOLVED,
        Decimal("0.00"),
        6,
    )
    assert case["next_action_kind"] is None
    assert [e["seq"] for e in final["case_events"]] == [1, 2, 3, 4, 5, 6]
    assert sorted(p["payment_ref"] for p in final["payments"]) == [
        f"{case_id}-P-{i}" for i in (1, 2, 3)
    ]
    assert all(i["status"] is t.DueStatus.KEPT for i in final["installments"])
    assert final["visits"][0]["recorded_by"] == "op-1"
    async with database.session() as session:
        loan = await session.get(t.Loan, inp.loan.loan_id)
    assert loan is not None and loan.status is t.LoanStatus.PAID


async def test_legal_hand_off_writes_one_case_file(
    acts: CaseActivities, database: Database, control: httpx.AsyncClient
) -> None:
    """The case file holds the loan, the contact log, visits, plan and payments; a second
    hand-off answers with the same reference and writes nothing more."""
    inp = factories.case_input()
    await seed_case(database, inp)
    case_id = case_id_for(inp.loan.loan_id)
    await run(acts.send_sms, sms(case_id))
    await run(acts.sync_case, projection(inp, last_seq=3, stage=Stage.LEGAL))
    handoff = act.LegalHandoffInput(
        case_id=case_id,
        loan=inp.loan,
        borrower=inp.borrower,
        balance=Decimal("1020.34"),
        days_past_due=75,
        approved_by=SUPERVISOR,
    )
    first = await run(acts.hand_off_to_legal, handoff)
    assert first.reference == f"LEGAL-{case_id}"
    assert await run(acts.hand_off_to_legal, handoff) == first
    async with database.session() as session:
        (row,) = (
            await session.exec(select(t.LegalOutbox).where(t.LegalOutbox.case_id == case_id))
        ).all()
    file = row.payload
    assert (row.status, file["reference"], file["balance"]) == (
        t.OutboxStatus.PENDING,
        first.reference,
        "1020.34",
    )
    assert file["approved_by"] == {"id": "sup-1", "role": "supervisor"}
    assert file["loan"]["loan_id"] == inp.loan.loan_id
    assert file["borrower"]["phone"] == PHONE
    assert [(a["idempotency_key"], a["status"]) for a in file["contact_log"]] == [
        (f"{case_id}/reminder-0", "sent")
    ]
    assert file["contact_log"][0]["body"] == SMS_TEXT
    assert [v["outcome"] for v in file["visits"]] == ["met"]
    assert [n["result_kind"] for n in file["negotiations"]] == ["installment_plan"]
    assert [p["status"] for p in file["promises"]] == ["broken"]
    assert [i["amount"] for i in file["installments"]] == ["510.16", "510.16", "510.18"]
    assert [p["amount"] for p in file["payments"]] == ["510.16"]


# ---------------------------------------------------------------- the overdue scan


@pytest.mark.integration
async def test_overdue_scan_starts_each_case_once(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    sandbox_url: str,
    hooks: tuple[WebhookRecorder, str],
    task_queue: str,
) -> None:
    """Open overdue loans without a running case get one (in batches); a loan with an open
    case, one not yet due and one paid are left alone; a second scan starts nothing."""
    await asyncio.to_thread(upgrade_database, sqlite_url)
    db = Database(sqlite_url)
    settings = make_settings(sandbox_url, hooks[1], task_queue=task_queue)
    activities = make_activities(db, settings)
    activities.temporal_client = dev_env.client
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    inputs = [factories.case_input(the_loan=factories.loan(due=yesterday)) for _ in range(3)]
    later = factories.case_input(the_loan=factories.loan(due=datetime.now(UTC).date()))
    paid = factories.case_input(the_loan=factories.loan(due=yesterday))
    for inp in [*inputs, later, paid]:
        await seed_case(db, inp)
    async with db.session() as session:
        paid_loan = await session.get(t.Loan, paid.loan.loan_id)
        assert paid_loan is not None
        paid_loan.status = t.LoanStatus.PAID
        session.add(paid_loan)
        await session.commit()
    open_case = projection(inputs[2], last_seq=1, stage=Stage.REMINDING)
    await run(activities.sync_case, open_case)
    started = [case_id_for(inp.loan.loan_id) for inp in inputs[:2]]
    try:
        first = await run(activities.scan_overdue_loans, act.ScanInput(batch_size=1))
        assert first == act.ScanResult(examined=3, started=2, already_open=1)
        second = await run(activities.scan_overdue_loans, act.ScanInput(batch_size=2))
        assert second == act.ScanResult(examined=3, started=0, already_open=3)
        for case_id in started:
            description = await dev_env.client.get_workflow_handle(case_id).describe()
            assert (description.workflow_type, description.task_queue) == (
                "CollectionCase",
                task_queue,
            )
    finally:
        await _terminate(dev_env.client, started)
        await activities.aclose()


async def _terminate(client: Client, case_ids: list[str]) -> None:
    for case_id in case_ids:
        with contextlib.suppress(RPCError):  # not started, or already over
            await client.get_workflow_handle(case_id).terminate("test over")


# ---------------------------------------------------------------- under the workflow


def logged(purpose: str) -> Callable[[c.CaseView], bool]:
    """The case has recorded a final outcome (not a deferral) for this step."""

    def check(view: c.CaseView) -> bool:
        return any(
            r.purpose == purpose and r.outcome is not c.ContactOutcome.DEFERRED
            for r in view.contact_log
        )

    return check


async def run_case_until(
    time_env: WorkflowEnvironment,
    url: str,
    settings: Settings,
    queues: tuple[str, str],
    reached: Callable[[c.CaseView], bool],
) -> c.CaseView:
    """A fresh case on the time-skipping server with the real activities, advanced until
    ``reached``, then terminated. Its state at that point."""
    task_queue, messaging_queue = queues
    await asyncio.to_thread(upgrade_database, url)
    activities = make_activities(Database(url), settings)
    inp = factories.case_input(
        messaging_queue=messaging_queue, now=await time_env.get_current_time()
    )
    await seed_case(activities.db, inp)
    workers = build_workers(
        time_env.client,
        task_queue=task_queue,
        messaging_task_queue=messaging_queue,
        activities=activities.all(),
    )
    handle: WorkflowHandle[Any, Any] = await time_env.client.start_workflow(
        CollectionCase.run, inp, id=case_id_for(inp.loan.loan_id), task_queue=task_queue
    )
    try:
        async with workers[0], workers[1]:
            return await advance_until(time_env, handle, reached)
    finally:
        await handle.terminate("test over")
        await activities.aclose()


async def ledger(url: str, case_id: str) -> list[t.ContactAttempt]:
    db = Database(url)
    try:
        return await attempts(db, case_id)
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("fault", "code", "call_outcome"),
    [
        ("invalid_numbers", "21211", c.ContactOutcome.REJECTED),
        ("non_mobile_numbers", "21614", c.ContactOutcome.SENT),
    ],
    ids=["invalid-number", "not-a-mobile"],
)
async def test_rejected_sms_falls_back_to_a_call_with_the_reason(
    time_env: WorkflowEnvironment,
    tmp_path: Path,
    sandbox_url: str,
    hooks: tuple[WebhookRecorder, str],
    control: httpx.AsyncClient,
    task_queue: str,
    messaging_queue: str,
    fault: str,
    code: str,
    call_outcome: c.ContactOutcome,
) -> None:
    """On the time-skipping server with the real activities: the first reminder SMS is refused
    by the provider (no retry), recorded REJECTED with Twilio's reason, and the case falls back
    to a call (which an invalid number refuses too, and a landline takes)."""
    await control.post("/sandbox/faults", json={fault: [PHONE]})
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    view = await run_case_until(
        time_env,
        url,
        make_settings(sandbox_url, hooks[1]),
        (task_queue, messaging_queue),
        logged("reminder-0-fallback"),
    )
    sms_record = next(r for r in view.contact_log if r.purpose == "reminder-0")
    call_record = next(r for r in view.contact_log if r.purpose == "reminder-0-fallback")
    assert (sms_record.channel, sms_record.outcome) == (Channel.SMS, c.ContactOutcome.REJECTED)
    assert "not a valid" in sms_record.reason
    assert (call_record.channel, call_record.outcome) == (Channel.CALL, call_outcome)
    box = await outbox(control)
    assert box["messages"] == []
    assert len(box["calls"]) == (1 if call_outcome is c.ContactOutcome.SENT else 0)
    call_row = (
        (Channel.CALL, t.AttemptStatus.REJECTED, code)
        if call_outcome is c.ContactOutcome.REJECTED
        else (Channel.CALL, t.AttemptStatus.SENT, None)
    )
    rows = await ledger(url, view.case_id)
    assert [(r.channel, r.status, r.error_code) for r in rows] == [
        (Channel.SMS, t.AttemptStatus.REJECTED, code),
        call_row,
    ]
    assert rows[0].reason == sms_record.reason


async def test_two_server_errors_under_the_workflow_end_in_one_message(
    time_env: WorkflowEnvironment,
    tmp_path: Path,
    sandbox_url: str,
    hooks: tuple[WebhookRecorder, str],
    control: httpx.AsyncClient,
    task_queue: str,
    messaging_queue: str,
) -> None:
    """Injected 5xx twice: Temporal retries the SMS activity with backoff and the reminder is
    sent once; the outbox and the ledger each hold one message."""
    await control.post("/sandbox/faults", json={"fail_next": 2, "status": 500})
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    view = await run_case_until(
        time_env,
        url,
        make_settings(sandbox_url, hooks[1]),
        (task_queue, messaging_queue),
        logged("reminder-0"),
    )
    record = next(r for r in view.contact_log if r.purpose == "reminder-0")
    assert record.outcome is c.ContactOutcome.SENT
    assert [m["sid"] for m in (await outbox(control))["messages"]] == [record.provider_sid]
    (row,) = await ledger(url, view.case_id)
    assert (row.status, row.provider_sid) == (t.AttemptStatus.SENT, record.provider_sid)
    faults = (await control.get("/sandbox/faults")).json()
    assert faults["fail_next"] == 0  # both injected failures were consumed by attempts
