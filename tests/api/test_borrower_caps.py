"""Caps per borrower across loans, end to end: two overdue loans of one borrower through the
API on the dev server, the read model written and read by the real activities (SQLite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities.db import Database
from api.app import create_app
from models import activities as act
from models import tables as t
from models.common import Channel
from models.settings import Settings
from models.strategy import ReminderStep
from tests import factories
from tests.api.conftest import PUBLIC_URL, ApiHarness, strategies
from tests.stand_ins import StandIns, running_workers
from tests.test_activities import make_activities, make_settings
from workers.temporal import activity_name

REAL = frozenset({act.SYNC_CASE, act.BORROWER_CONTACTS})
DAY = 10  # seconds: the "day-one" strategy's first SMS falls due this long after opening
STRATEGIES = strategies() | {
    "day-one": factories.seconds_strategy(
        DAY,
        id="day-one",
        reminders=(ReminderStep(day=1, channel=Channel.SMS, template="friendly_notice"),),
    )
}


@pytest.fixture
async def caps_api(
    dev_env: WorkflowEnvironment, settings: Settings, app_database: Database
) -> AsyncIterator[ApiHarness]:
    """As ``api``, but the read model is the app's database, synced and read for real; only
    the provider (Twilio) and the collectors stand in."""
    client = dev_env.client

    async def factory(_: Settings) -> Any:
        return client

    app = create_app(
        settings, temporal_client_factory=factory, database=app_database, strategies=STRATEGIES
    )
    stand_ins = StandIns()
    # The provider is never called: the stand-ins send; the real class reads and writes SQL.
    real = make_activities(app_database, make_settings("http://127.0.0.1:9", PUBLIC_URL))
    chosen = [a for a in stand_ins.activities() if activity_name(a) not in REAL]
    chosen += [real.sync_case, real.borrower_contacts]
    queues = (settings.task_queue, settings.messaging_task_queue)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            running_workers(client, *queues, stand_ins, activities=chosen),
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http,
        ):
            yield ApiHarness(http, client, settings, stand_ins, app_database)
    finally:
        await real.messenger.aclose()


async def synced_contacts(db: Database, loan_id: str, within: float = 20.0) -> list[t.CaseEvent]:
    """The case's contact events once the read model holds one that went out."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with db.session() as session:
            rows = list(
                (
                    await session.exec(
                        select(t.CaseEvent).where(
                            t.CaseEvent.case_id == f"case-{loan_id}",
                            t.CaseEvent.kind == act.CaseEventKind.CONTACT.value,
                        )
                    )
                ).all()
            )
        if rows:
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no contact of {loan_id} reached the read model")
        await asyncio.sleep(0.2)


async def test_two_loans_of_one_borrower_share_the_sms_cap(caps_api: ApiHarness) -> None:
    """The second loan's first SMS waits a day for the first loan's, and says why."""
    api = caps_api
    borrower = api.overdue_event()["borrower"] | {"id": f"B-{uuid.uuid4().hex[:8]}"}
    first = await api.open_case(strategy="sms-first", borrower=borrower)
    sent = await synced_contacts(api.database, first)
    assert [e.details["outcome"] for e in sent] == ["sent"]

    second = await api.open_case(strategy="sms-first", borrower=borrower)
    state = await api.wait_for(second, lambda s: bool(s["contact_log"]))
    record = state["contact_log"][0]
    assert record["purpose"] == "reminder-0" and record["outcome"] == "deferred"
    assert "SMS daily cap" in record["reason"] and "on other loans" in record["reason"]
    # one SMS a day for the borrower, across both loans: the second waits the day out
    assert [s.key for s in api.stand_ins.sms()] == [f"case-{first}/g1/reminder-0"]
    first_at = (await api.wait_for(first, lambda s: bool(s["contact_log"])))["contact_log"][0]["at"]
    strategy = STRATEGIES["sms-first"]
    # …until a whole strategy day after the first loan's SMS (3,600 s here)
    until = datetime.fromisoformat(record["until"])
    assert until >= datetime.fromisoformat(first_at) + timedelta(seconds=strategy.day_seconds)


async def test_two_loans_falling_due_together_send_one_sms(caps_api: ApiHarness) -> None:
    """Opened at once, both loans' first SMS falls due in the same second: one goes, the other
    waits a day and says it counted the other loan."""
    api = caps_api
    borrower = api.overdue_event()["borrower"] | {"id": f"B-{uuid.uuid4().hex[:8]}"}
    loans = await asyncio.gather(
        *(api.open_case(strategy="day-one", borrower=borrower) for _ in range(2))
    )
    states = [
        await api.wait_for(loan, lambda s: bool(s["contact_log"]), within=DAY + 20)
        for loan in loans
    ]
    firsts = [s["contact_log"][0] for s in states]
    assert sorted(f["outcome"] for f in firsts) == ["deferred", "sent"]
    sent, deferred = sorted(firsts, key=lambda f: f["outcome"] == "deferred")
    assert "SMS daily cap" in deferred["reason"] and "on other loans" in deferred["reason"]
    assert datetime.fromisoformat(deferred["until"]) > datetime.fromisoformat(sent["at"])
    assert len(api.stand_ins.sms()) == 1
    # the waiting one goes a whole day after the first SMS (it looks again before it sends)
    late = next(loan for loan, f in zip(loans, firsts, strict=True) if f is deferred)
    later = await api.wait_for(
        late,
        lambda s: any(r["outcome"] == "sent" for r in s["contact_log"]),
        within=DAY * 2 + 20,
    )
    # the times the caps count: each case's gate decision, in the workflow's clock
    second_at = next(r["at"] for r in later["contact_log"] if r["outcome"] == "sent")
    gap = datetime.fromisoformat(second_at) - datetime.fromisoformat(sent["at"])
    assert gap >= timedelta(seconds=DAY)
    keys = {s.key for s in api.stand_ins.sms()}
    assert keys == {f"case-{loan}/g1/reminder-0" for loan in loans}
