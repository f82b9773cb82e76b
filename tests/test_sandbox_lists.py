"""The sandbox's Twilio list endpoints through the real twilio SDK: filters, paging, shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import serve

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)

SID = "AC" + "d" * 32
TOKEN = "sandbox-list-token"
FROM = "+15005550006"
A, B = "+8613800138001", "+8613800138002"
TWILIO_MESSAGE_FIELDS = {
    "account_sid", "api_version", "body", "date_created", "date_sent", "date_updated",
    "direction", "error_code", "error_message", "from", "messaging_service_sid", "num_media",
    "num_segments", "price", "price_unit", "sid", "status", "subresource_uris", "to", "uri",
}  # fmt: skip


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[tuple[str, Client]]:
    config = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
    http = AsyncTwilioHttpClient()
    client = Client(SID, TOKEN, http_client=http)
    async with serve(create_sandbox_app(config)) as url:
        client.api.base_url = url
        client.edge = None
        client.region = None
        try:
            yield url, client
        finally:
            await http.close()


async def test_messages_list_filters_by_to_and_date_sent_and_pages(
    sandbox: tuple[str, Client],
) -> None:
    """Five to A, one to B: ``To=A`` with ``DateSent>`` pages of two give A's five, newest
    first, each exactly Twilio's resource (the StatusCallback kept for the outbox is not shown);
    a ``DateSent>`` after them gives none."""
    url, client = sandbox
    since = datetime.now(UTC) - timedelta(seconds=2)
    sids = []
    for n in range(5):
        m = await client.messages.create_async(
            to=A, from_=FROM, body=f"m{n}", status_callback="http://127.0.0.1:9/s?key=k"
        )
        sids.append(m.sid)
    await client.messages.create_async(to=B, from_=FROM, body="other")
    await asyncio.sleep(0.2)  # every message has a DateSent
    listed = await client.messages.list_async(to=A, date_sent_after=since, page_size=2)
    assert [m.sid for m in listed] == list(reversed(sids))
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert await client.messages.list_async(to=A, date_sent_after=later) == []
    async with httpx.AsyncClient(base_url=url, auth=(SID, TOKEN)) as api:
        path = f"/2010-04-01/Accounts/{SID}/Messages.json"
        first = (await api.get(path, params={"To": A, "PageSize": 2})).json()
        assert [len(first["messages"]), first["page"], first["page_size"]] == [2, 0, 2]
        assert set(first["messages"][0]) == TWILIO_MESSAGE_FIELDS
        assert first["next_page_uri"].startswith(path + "?")
        last = (await api.get(first["next_page_uri"].replace("Page=1", "Page=2"))).json()
        assert (len(last["messages"]), last["next_page_uri"]) == (1, None)
        outbox = (await api.get("/sandbox/outbox", params={"to": A})).json()
        assert outbox["messages"][0]["status_callback"] == "http://127.0.0.1:9/s?key=k"
        bad = await api.get(path, params={"DateSent>": "yesterday"})
        assert bad.status_code == 400 and bad.json()["code"] == 20001


async def test_a_queued_message_has_no_date_sent_and_matches_no_date_filter() -> None:
    """As on Twilio, ``DateSent>`` leaves out a message not yet sent; ``To`` alone lists it."""
    slow = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=30)
    http = AsyncTwilioHttpClient()
    client = Client(SID, TOKEN, http_client=http)
    try:
        async with serve(create_sandbox_app(slow)) as slow_url:
            client.api.base_url = slow_url
            client.edge = client.region = None
            since = datetime.now(UTC) - timedelta(minutes=1)
            await client.messages.create_async(to=A, from_=FROM, body="queued")
            assert await client.messages.list_async(to=A, date_sent_after=since) == []
            (queued,) = await client.messages.list_async(to=A)
            assert (queued.status, queued.date_sent) == ("queued", None)
    finally:
        await http.close()


async def test_calls_list_filters_by_to_and_start_time(sandbox: tuple[str, Client]) -> None:
    """A dialled call has a start_time (also when unanswered) and is listed under
    ``StartTime>``; the list's key is ``calls`` and the TwiML stays in the outbox."""
    url, client = sandbox
    since = datetime.now(UTC) - timedelta(seconds=2)
    call = await client.calls.create_async(to=A, from_=FROM, twiml="<Response/>")
    await client.calls.create_async(to=B, from_=FROM, twiml="<Response/>")
    await asyncio.sleep(0.2)
    (listed,) = await client.calls.list_async(to=A, start_time_after=since)
    assert listed.sid == call.sid and listed.start_time is not None
    async with httpx.AsyncClient(base_url=url, auth=(SID, TOKEN)) as api:
        page = (await api.get(f"/2010-04-01/Accounts/{SID}/Calls.json", params={"To": A})).json()
        assert "twiml" not in page["calls"][0] and "status_callback" not in page["calls"][0]
