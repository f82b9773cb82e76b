"""The Twilio sandbox over plain HTTP: Twilio's shapes, errors, faults, callbacks, borrower play."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox import SandboxConfig, create_sandbox_app
from sandbox.testing import Received, WebhookRecorder, serve, signature_valid

SID = "AC" + "a" * 32
TOKEN = "sandbox-test-token"
FROM = "+15005550006"
BORROWER = "+8613800138000"
CONFIG = SandboxConfig(account_sid=SID, auth_token=TOKEN, step_delay_seconds=0.01)
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{SID}/Calls.json"
TWIML = (
    '<Response><Gather numDigits="1" action="{action}" method="POST">'
    "<Say>hi</Say></Gather></Response>"
)
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


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
async def api(
    sandbox_url: str, recorder: tuple[WebhookRecorder, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, auth=(SID, TOKEN)) as client:
        await client.delete("/sandbox/faults")
        await client.delete("/sandbox/outbox")
        recorder[0].clear()
        yield client


async def send_sms(api: httpx.AsyncClient, to: str = BORROWER, **extra: str) -> httpx.Response:
    return await api.post(MESSAGES, data={"To": to, "From": FROM, "Body": "您好", **extra})


async def place_call(api: httpx.AsyncClient, to: str = BORROWER, **extra: Any) -> httpx.Response:
    return await api.post(CALLS, data={"To": to, "From": FROM, "Twiml": "<Response/>", **extra})


async def faults(api: httpx.AsyncClient, **plan: Any) -> None:
    (await api.post("/sandbox/faults", json=plan)).raise_for_status()


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def path_is(path: str) -> Any:
    return lambda r: r.path == path


# -- Twilio's REST API ----------------------------------------------------------------------------


async def test_health(api: httpx.AsyncClient) -> None:
    health = (await api.get("/sandbox/health")).json()
    assert health["status"] == "ok"
    assert health["account_sid"] == SID


async def test_message_is_created_in_twilio_shape(api: httpx.AsyncClient) -> None:
    response = await send_sms(api)
    assert response.status_code == 201
    message = response.json()
    assert set(message) == {
        "account_sid", "api_version", "body", "date_created", "date_sent", "date_updated",
        "direction", "error_code", "error_message", "from", "messaging_service_sid", "num_media",
        "num_segments", "price", "price_unit", "sid", "status", "subresource_uris", "to", "uri",
    }  # fmt: skip
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert RFC2822.match(message["date_created"])
    assert parsedate_to_datetime(message["date_created"]).tzinfo is not None
    assert message["account_sid"] == SID
    assert (message["to"], message["from"], message["body"]) == (BORROWER, FROM, "您好")
    assert (message["status"], message["direction"]) == ("queued", "outbound-api")
    assert (message["price"], message["error_code"], message["date_sent"]) == (None, None, None)
    assert message["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{message['sid']}.json"
    fetched = await api.get(message["uri"])
    assert fetched.json()["sid"] == message["sid"]


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, "1"), ("a" * 161, "2"), ("您" * 70, "1"), ("您" * 71, "2")],
)
async def test_segments_count_like_twilio(api: httpx.AsyncClient, body: str, segments: str) -> None:
    response = await send_sms(api, Body=body)
    assert response.json()["num_segments"] == segments


async def test_call_is_created_in_twilio_shape(api: httpx.AsyncClient) -> None:
    response = await place_call(api)
    assert response.status_code == 201
    call = response.json()
    assert re.fullmatch(r"CA[0-9a-f]{32}", call["sid"])
    assert {"from_formatted", "to_formatted", "queue_time", "subresource_uris"} <= set(call)
    assert "twiml" not in call  # the outbox adds it; Twilio's resource has no such field
    assert (call["status"], call["direction"], call["duration"]) == ("queued", "outbound-api", None)
    assert call["from_formatted"] == "(500) 555-0006"
    assert RFC2822.match(call["date_created"])


async def test_bad_credentials_answer_20003(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url, auth=(SID, "wrong")) as client:
        response = await client.post(MESSAGES, data={"To": BORROWER, "From": FROM, "Body": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("number", ["13800138000", "+0123456", "+86 138", "+8613999999999"])
async def test_invalid_numbers_answer_21211(api: httpx.AsyncClient, number: str) -> None:
    await faults(api, invalid_numbers=["+8613999999999"])
    for response in (await send_sms(api, to=number), await place_call(api, to=number)):
        assert response.status_code == 400
        message = f"The 'To' number {number} is not a valid phone number."
        assert response.json() == twilio_error(400, 21211, message)
    assert (await api.get("/sandbox/outbox")).json() == {"messages": [], "calls": []}


async def test_missing_body_answers_21602(api: httpx.AsyncClient) -> None:
    response = await api.post(MESSAGES, data={"To": BORROWER, "From": FROM})
    assert response.json() == twilio_error(400, 21602, "Message body is required.")


async def test_unsubscribed_numbers_answer_21610_for_sms_only(api: httpx.AsyncClient) -> None:
    await faults(api, unsubscribed_numbers=[BORROWER])
    response = await send_sms(api)
    assert response.status_code == 400
    assert response.json()["code"] == 21610
    assert (await place_call(api)).status_code == 201


async def test_fail_next_then_success(api: httpx.AsyncClient) -> None:
    await faults(api, fail_next=2, status=503)
    statuses = [(await send_sms(api)).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    outbox = (await api.get("/sandbox/outbox")).json()
    assert len(outbox["messages"]) == 1


async def test_fault_error_has_twilio_shape(api: httpx.AsyncClient) -> None:
    await faults(api, fail_next=1, status=500)
    response = await send_sms(api)
    assert response.json() == twilio_error(500, 20500, "An internal server error has occurred")


async def test_rate_limit_answers_20429(api: httpx.AsyncClient) -> None:
    await faults(api, rate_limit_per_second=0.01, rate_limit_burst=1)
    assert (await send_sms(api)).status_code == 201
    response = await send_sms(api)
    assert response.json() == twilio_error(429, 20429, "Too Many Requests")


@pytest.mark.parametrize("commits", [False, True])
async def test_timeout_hangs_until_the_client_gives_up(
    api: httpx.AsyncClient, commits: bool
) -> None:
    await faults(api, timeout_next=1, timeout_seconds=30, timeout_commits=commits)
    with pytest.raises(httpx.ReadTimeout):
        await api.post(MESSAGES, data={"To": BORROWER, "From": FROM, "Body": "x"}, timeout=0.3)
    outbox = (await api.get("/sandbox/outbox")).json()
    assert len(outbox["messages"]) == (1 if commits else 0)
    assert (await send_sms(api)).status_code == 201  # only the next one request hung


async def test_random_faults_replay_with_the_same_seed(api: httpx.AsyncClient) -> None:
    async def run() -> list[int]:
        await faults(api, error_rate_5xx=0.5, seed=7)
        return [(await send_sms(api)).status_code for _ in range(20)]

    first = await run()
    await api.delete("/sandbox/faults")
    assert await run() == first
    assert {500, 201} == set(first)


async def test_fault_plan_is_validated_and_reset(api: httpx.AsyncClient) -> None:
    assert (await api.post("/sandbox/faults", json={"status": 404})).status_code == 422
    assert (await api.post("/sandbox/faults", json={"fail_nxt": 1})).status_code == 422
    await faults(api, fail_next=3, invalid_numbers=[BORROWER])
    plan = (await api.get("/sandbox/faults")).json()
    assert (plan["fail_next"], plan["invalid_numbers"]) == (3, [BORROWER])
    reset = (await api.delete("/sandbox/faults")).json()
    assert (reset["fail_next"], reset["invalid_numbers"]) == (0, [])


async def test_outbox_filters_by_number_and_clears(api: httpx.AsyncClient) -> None:
    await send_sms(api)
    await send_sms(api, to="+8613900139000")
    await place_call(api)
    # An unencoded "+" arrives as a space; both spellings must find the borrower.
    for query in ("/sandbox/outbox?to=+8613800138000", "/sandbox/outbox?to=%2B8613800138000"):
        outbox = (await api.get(query)).json()
        assert [m["to"] for m in outbox["messages"]] == [BORROWER]
        assert outbox["calls"][0]["twiml"] == "<Response/>"
    await api.delete("/sandbox/outbox")
    assert (await api.get("/sandbox/outbox")).json() == {"messages": [], "calls": []}


# -- status callbacks -----------------------------------------------------------------------------


async def test_message_callbacks_are_signed_like_twilio(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    sid = (await send_sms(api, StatusCallback=f"{hooks_url}/sms-status")).json()["sid"]
    posts = await hooks.wait_for(path_is("/sms-status"), count=2)
    assert [p.form["MessageStatus"] for p in posts] == ["sent", "delivered"]
    for post in posts:
        assert post.form["MessageSid"] == sid
        assert (post.form["AccountSid"], post.form["To"], post.form["From"]) == (
            SID,
            BORROWER,
            FROM,
        )
        assert "ErrorCode" not in post.form
        assert signature_valid(TOKEN, post)
        assert not signature_valid("another-token", post)
        forged = Received(post.path, post.url, {**post.form, "MessageStatus": "x"}, post.signature)
        assert not signature_valid(TOKEN, forged)
    outbox = (await api.get("/sandbox/outbox")).json()
    assert outbox["messages"][0]["status"] == "delivered"
    assert outbox["messages"][0]["date_sent"] is not None


async def test_undelivered_numbers_report_30003(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    await faults(api, undelivered_numbers=[BORROWER])
    await send_sms(api, StatusCallback=f"{hooks_url}/sms-status")
    posts = await hooks.wait_for(path_is("/sms-status"), count=2)
    assert [p.form["MessageStatus"] for p in posts] == ["sent", "undelivered"]
    assert posts[-1].form["ErrorCode"] == "30003"
    message = (await api.get("/sandbox/outbox")).json()["messages"][0]
    assert (message["status"], message["error_code"]) == ("undelivered", 30003)


async def test_call_callbacks_follow_the_requested_events(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    events = ["initiated", "ringing", "answered", "completed"]
    created = await place_call(
        api, StatusCallback=f"{hooks_url}/call-status", StatusCallbackEvent=events
    )
    posts = await hooks.wait_for(path_is("/call-status"), count=4)
    statuses = [p.form["CallStatus"] for p in posts]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert [p.form["SequenceNumber"] for p in posts] == ["0", "1", "2", "3"]
    assert posts[-1].form["CallDuration"] == str(CONFIG.call_duration_seconds)
    assert all(p.form["CallSid"] == created.json()["sid"] for p in posts)
    assert all(signature_valid(TOKEN, p) for p in posts)
    call = (await api.get("/sandbox/outbox")).json()["calls"][0]
    assert (call["status"], call["duration"]) == ("completed", "15")


@pytest.mark.parametrize(
    ("plan_key", "status"), [("no_answer_numbers", "no-answer"), ("busy_numbers", "busy")]
)
async def test_unanswered_calls(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str], plan_key: str, status: str
) -> None:
    hooks, hooks_url = recorder
    await faults(api, **{plan_key: [BORROWER]})
    await place_call(api, StatusCallback=f"{hooks_url}/call-status")  # default: "completed" only
    posts = await hooks.wait_for(path_is("/call-status"))
    assert [p.form["CallStatus"] for p in posts] == [status]
    assert posts[0].form["CallDuration"] == "0"


async def test_failing_callbacks_are_retried_once_then_dropped(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    hooks.status = 500
    await send_sms(api, StatusCallback=f"{hooks_url}/sms-status")
    await send_sms(api, StatusCallback="http://127.0.0.1:9/nobody-listens")
    posts = await hooks.wait_for(path_is("/sms-status"), count=4)
    assert [p.form["MessageStatus"] for p in posts] == ["sent", "sent", "delivered", "delivered"]
    await asyncio.sleep(0.2)
    assert len(hooks.matching(path_is("/sms-status"))) == 4
    assert (await api.get("/sandbox/health")).json()["messages"] == 2


async def test_callbacks_can_be_switched_off(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    await faults(api, callbacks_enabled=False)
    await send_sms(api, StatusCallback=f"{hooks_url}/sms-status")
    await asyncio.sleep(0.2)
    assert hooks.received == []
    assert (await api.get("/sandbox/outbox")).json()["messages"][0]["status"] == "delivered"


# -- playing the borrower -------------------------------------------------------------------------


async def test_inbound_stop_unsubscribes_and_start_resubscribes(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    await send_sms(api)
    stop = {"from": BORROWER, "body": "stop ", "url": f"{hooks_url}/sms"}
    answer = (await api.post("/sandbox/inbound", json=stop)).json()
    assert (answer["webhook_status"], answer["unsubscribed"]) == (200, True)
    (post,) = hooks.matching(path_is("/sms"))
    assert signature_valid(TOKEN, post)
    assert post.form["MessageSid"] == answer["message_sid"]
    assert (post.form["From"], post.form["To"], post.form["Body"]) == (BORROWER, FROM, "stop ")
    assert (post.form["AccountSid"], post.form["NumMedia"]) == (SID, "0")
    assert (await send_sms(api)).json()["code"] == 21610

    start = {"from": BORROWER, "to": FROM, "body": "START", "url": f"{hooks_url}/sms"}
    answer = (await api.post("/sandbox/inbound", json=start)).json()
    assert answer["unsubscribed"] is False
    assert (await send_sms(api)).status_code == 201


async def test_inbound_reports_the_webhook_status(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    hooks.status = 403
    reply = {"from": BORROWER, "to": FROM, "body": "1", "url": f"{hooks_url}/sms"}
    assert (await api.post("/sandbox/inbound", json=reply)).json()["webhook_status"] == 403
    reply["url"] = "http://127.0.0.1:9/down"
    answer = (await api.post("/sandbox/inbound", json=reply)).json()
    assert answer["webhook_status"] is None
    assert answer["error"]


async def test_press_posts_a_signed_gather_result(
    api: httpx.AsyncClient, recorder: tuple[WebhookRecorder, str]
) -> None:
    hooks, hooks_url = recorder
    twiml = TWIML.format(action=f"{hooks_url}/gather?case=42")
    sid = (await place_call(api, Twiml=twiml)).json()["sid"]
    answer = (await api.post(f"/sandbox/calls/{sid}/press", json={"digits": "1"})).json()
    assert answer["webhook_status"] == 200
    (post,) = hooks.matching(path_is("/gather"))
    assert post.url == f"{hooks_url}/gather?case=42"
    assert signature_valid(TOKEN, post)
    assert (post.form["CallSid"], post.form["Digits"]) == (sid, "1")
    assert (post.form["From"], post.form["To"], post.form["AccountSid"]) == (FROM, BORROWER, SID)
    unknown = await api.post("/sandbox/calls/CA0/press", json={"digits": "1"})
    assert unknown.status_code == 404
