"""TwilioMessenger through the real twilio SDK against the sandbox: results, callbacks, errors."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from activities.twilio_client import (
    PermanentContactError,
    ProviderRejectedError,
    TransientProviderError,
    TwilioMessenger,
    build_twiml,
)
from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import WebhookRecorder, serve, signature_valid

# twilio 9.13's aiohttp client uses aiohttp's deprecated BasicAuth / `auth=`; not our code.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:(BasicAuth|The 'auth' parameter) is deprecated:DeprecationWarning"
)

SID = "AC" + "b" * 32
TOKEN = "sandbox-test-token"
FROM = "+15005550006"
BORROWER = "+8613800138000"
CONFIG = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
REMINDER = '张先生，您的贷款已逾期 3 天，应还 ¥1,250.00。回复 "STOP" 退订 <&>'
# Generous: CI machines are shared, and a slow answer must not read as a provider failure.
CLIENT_TIMEOUT = 10.0
# The timeout test's own deadline, far below the sandbox's 30 s stall and well above a slow answer.
SHORT_TIMEOUT = 2.0


@pytest_asyncio.fixture(scope="module")
async def recorder() -> AsyncIterator[tuple[WebhookRecorder, str]]:
    hooks = WebhookRecorder()
    async with serve(hooks.app) as url:
        yield hooks, url


@pytest_asyncio.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    async with serve(create_sandbox_app(CONFIG)) as url:
        yield url


@pytest_asyncio.fixture
async def control(
    sandbox_url: str, recorder: tuple[WebhookRecorder, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's own endpoints, reset before each test."""
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        await client.delete("/sandbox/faults")
        await client.delete("/sandbox/outbox")
        recorder[0].clear()
        yield client


def make_messenger(
    base_url: str,
    callback_base: str | None = None,
    token: str = TOKEN,
    timeout: float = CLIENT_TIMEOUT,
) -> TwilioMessenger:
    return TwilioMessenger(SID, token, base_url, FROM, callback_base, timeout)


@pytest_asyncio.fixture
async def messenger(
    sandbox_url: str, recorder: tuple[WebhookRecorder, str], control: httpx.AsyncClient
) -> AsyncIterator[TwilioMessenger]:
    client = make_messenger(sandbox_url, callback_base=recorder[1])
    yield client
    await client.aclose()


async def outbox(control: httpx.AsyncClient) -> dict[str, list[dict[str, object]]]:
    response = await control.get("/sandbox/outbox", params={"to": BORROWER})
    result: dict[str, list[dict[str, object]]] = response.json()
    return result


# -- sending ---------------------------------------------------------------------------------------


async def test_sms_reaches_the_outbox_with_the_exact_text(
    messenger: TwilioMessenger, control: httpx.AsyncClient
) -> None:
    result = await messenger.send_sms(BORROWER, REMINDER, status_callback=None)
    assert result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "queued"
    assert (result.raw["body"], result.raw["to"], result.raw["from"]) == (REMINDER, BORROWER, FROM)
    json.dumps(result.raw)  # storable as is
    (message,) = (await outbox(control))["messages"]
    assert (message["sid"], message["body"]) == (result.sid, REMINDER)
    assert message["date_created"] == result.raw["date_created"]


async def test_call_carries_the_twiml_and_the_borrower_can_answer(
    messenger: TwilioMessenger, control: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    twiml = build_twiml(REMINDER, "zh-CN", f"{hooks_url}/gather", "按 1 承诺还款，按 2 稍后回电。")
    result = await messenger.place_call(BORROWER, twiml, status_callback=None)
    assert result.sid.startswith("CA")
    (call,) = (await outbox(control))["calls"]
    assert (call["sid"], call["twiml"]) == (result.sid, twiml)

    pressed = await control.post(f"/sandbox/calls/{result.sid}/press", json={"digits": "2"})
    assert pressed.json()["webhook_status"] == 200
    (gather,) = hooks.matching(lambda r: r.path == "/gather")
    assert (gather.form["CallSid"], gather.form["Digits"]) == (result.sid, "2")
    assert signature_valid(TOKEN, gather)


async def test_status_callbacks_arrive_signed(
    messenger: TwilioMessenger, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks = recorder[0]
    sms = await messenger.send_sms(BORROWER, "hello", status_callback="/webhooks/twilio/sms")
    call = await messenger.place_call(
        BORROWER, "<Response/>", status_callback="/webhooks/twilio/call"
    )
    sms_posts = await hooks.wait_for(lambda r: r.path == "/webhooks/twilio/sms", count=2)
    call_posts = await hooks.wait_for(lambda r: r.path == "/webhooks/twilio/call", count=4)
    assert [p.form["MessageStatus"] for p in sms_posts] == ["sent", "delivered"]
    assert [p.form["CallStatus"] for p in call_posts] == [
        "initiated", "ringing", "in-progress", "completed",
    ]  # fmt: skip
    assert {p.form["MessageSid"] for p in sms_posts} == {sms.sid}
    assert {p.form["CallSid"] for p in call_posts} == {call.sid}
    assert all(signature_valid(TOKEN, p) for p in sms_posts + call_posts)


async def test_absolute_callbacks_are_used_as_given(
    sandbox_url: str, control: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    client = make_messenger(sandbox_url, callback_base=None)
    try:
        await client.send_sms(BORROWER, "hello", status_callback=f"{hooks_url}/abs")
        with pytest.raises(ValueError, match="needs a base URL"):
            await client.send_sms(BORROWER, "hello", status_callback="/relative")
    finally:
        await client.aclose()
    await hooks.wait_for(lambda r: r.path == "/abs", count=2)


async def test_twilio_region_in_the_environment_does_not_redirect(
    sandbox_url: str, control: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    client = make_messenger(sandbox_url)
    try:
        assert (await client.send_sms(BORROWER, "hello", None)).status == "queued"
    finally:
        await client.aclose()


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "to", "code"),
    [
        ({}, "13800138000", 21211),
        ({"invalid_numbers": [BORROWER]}, BORROWER, 21211),
        ({"unsubscribed_numbers": [BORROWER]}, BORROWER, 21610),
        ({"non_mobile_numbers": [BORROWER]}, BORROWER, 21614),
    ],
)
async def test_unreachable_contacts_are_permanent(
    messenger: TwilioMessenger,
    control: httpx.AsyncClient,
    plan: dict[str, object],
    to: str,
    code: int,
) -> None:
    await control.post("/sandbox/faults", json=plan)
    with pytest.raises(PermanentContactError) as caught:
        await messenger.send_sms(to, "hello", None)
    assert caught.value.code == code
    assert caught.value.reason


async def test_invalid_number_is_permanent_for_calls_too(messenger: TwilioMessenger) -> None:
    with pytest.raises(PermanentContactError) as caught:
        await messenger.place_call("00861380013", "<Response/>", None)
    assert caught.value.code == 21211


async def test_two_server_errors_then_success(
    messenger: TwilioMessenger, control: httpx.AsyncClient
) -> None:
    await control.post("/sandbox/faults", json={"fail_next": 2, "status": 500})
    for _ in range(2):
        with pytest.raises(TransientProviderError) as caught:
            await messenger.send_sms(BORROWER, REMINDER, None)
        assert (caught.value.code, caught.value.outcome_unknown) == (20500, False)
    result = await messenger.send_sms(BORROWER, REMINDER, None)
    assert [m["sid"] for m in (await outbox(control))["messages"]] == [result.sid]


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_and_unavailability_are_transient(
    messenger: TwilioMessenger, control: httpx.AsyncClient, status: int
) -> None:
    await control.post("/sandbox/faults", json={"fail_next": 1, "status": status})
    with pytest.raises(TransientProviderError) as caught:
        await messenger.place_call(BORROWER, "<Response/>", None)
    assert caught.value.code == {429: 20429, 503: 20503}[status]


async def test_rate_limit_is_transient(
    messenger: TwilioMessenger, control: httpx.AsyncClient
) -> None:
    await control.post("/sandbox/faults", json={"rate_limit_per_second": 0.01})
    await messenger.send_sms(BORROWER, "first", None)
    with pytest.raises(TransientProviderError) as caught:
        await messenger.send_sms(BORROWER, "second", None)
    assert caught.value.code == 20429


async def test_timeout_is_transient_with_unknown_outcome(
    sandbox_url: str, control: httpx.AsyncClient
) -> None:
    await control.post("/sandbox/faults", json={"timeout_next": 1, "timeout_seconds": 30})
    messenger = make_messenger(sandbox_url, timeout=SHORT_TIMEOUT)
    try:
        started = time.monotonic()
        with pytest.raises(TransientProviderError) as caught:
            await messenger.send_sms(BORROWER, "hello", None)
        # Our deadline, not the sandbox's 30 s stall, ended the request.
        assert time.monotonic() - started < 15
        assert (caught.value.code, caught.value.outcome_unknown) == (None, True)
        # The messenger is still usable after a timed-out request.
        assert (await messenger.send_sms(BORROWER, "hello", None)).status == "queued"
    finally:
        await messenger.aclose()


async def test_bad_credentials_are_rejected(sandbox_url: str, control: httpx.AsyncClient) -> None:
    client = make_messenger(sandbox_url, token="wrong-token")
    try:
        with pytest.raises(ProviderRejectedError) as caught:
            await client.send_sms(BORROWER, "hello", None)
    finally:
        await client.aclose()
    assert caught.value.code == 20003


async def test_unreachable_provider_is_transient_and_nothing_was_sent() -> None:
    client = make_messenger("http://127.0.0.1:9")
    try:
        with pytest.raises(TransientProviderError) as caught:
            await client.send_sms(BORROWER, "hello", None)
    finally:
        await client.aclose()
    assert (caught.value.code, caught.value.outcome_unknown) == (None, False)


# -- TwiML -----------------------------------------------------------------------------------------


def test_twiml_gathers_one_digit_in_the_borrowers_language() -> None:
    twiml = build_twiml('Owe <$5> & "more"', "en_US", "https://cf.example/g?a=1&b=2", "Press 1.")
    assert not twiml.startswith("<?xml")
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    gather, after = list(root)
    assert (gather.tag, after.tag) == ("Gather", "Say")
    assert gather.attrib == {
        "numDigits": "1",
        "action": "https://cf.example/g?a=1&b=2",
        "method": "POST",
    }
    (say,) = list(gather)
    assert (say.text, say.get("language")) == ('Owe <$5> & "more" Press 1.', "en-US")
    assert (after.text, after.get("language")) == ('Owe <$5> & "more"', "en-US")
    assert "&lt;$5&gt; &amp;" in twiml


def test_twiml_farewell_and_chinese() -> None:
    root = ET.fromstring(build_twiml("您好", "zh-CN", "https://cf.example/g", "请按 1", "再见"))
    assert root[0][0].get("language") == "zh-CN"
    assert root[1].text == "再见"


def test_twiml_refuses_a_language_it_cannot_speak() -> None:
    with pytest.raises(ValueError, match="no voice"):
        build_twiml("hola", "es-MX", "https://cf.example/g", "1")


async def test_a_send_still_queued_at_twilio_is_found_by_the_reconciliation_lookup() -> None:
    """Chaos seed 29: a message slower to leave Twilio's queue than the settle time was not in
    the ``DateSent>`` list, read as never sent, and went out twice. The look-up lists by ``To``
    and keeps what was created since the attempt, queued or not."""
    slow = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=30)
    async with serve(create_sandbox_app(slow)) as url:
        messenger = make_messenger(url)
        try:
            since = datetime.now(UTC) - timedelta(seconds=5)
            sent = await messenger.send_sms(BORROWER, REMINDER, None)
            (found,) = await messenger.recent_messages(BORROWER, since)
            assert (found.sid, found.status) == (sent.sid, "queued")
            assert await messenger.recent_messages(BORROWER, datetime.now(UTC) + timedelta(1)) == []
        finally:
            await messenger.aclose()
