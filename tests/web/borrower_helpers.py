"""Helpers for the borrower's page tests: a case with a chosen language, the sandbox outbox."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
from playwright.async_api import Page

from models.common import case_id_for
from tests import factories
from tests.web.conftest import LiveSite

PHONE = "+8613800138000"
LINK = re.compile(r"/b/([A-Za-z0-9_-]{22})")
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# The wave-1 workflow has no visit-answer handler and refuses negotiation outside stage
# negotiating; the core's shell names the handler in the action table when it lands.


async def open_case(
    site: LiveSite,
    locale: str = "zh-CN",
    birth_year: int | None = None,
    name: str = "王芳",
    strategy: str = "sms-first",
) -> str:
    loan_id = f"L-{uuid.uuid4().hex[:10]}"
    borrower: dict[str, object] = {
        "id": f"B-{uuid.uuid4().hex[:8]}",
        "name": name,
        "phone": PHONE,
        "timezone": factories.open_window_zone(),
        "locale": locale,
        "region": site.region,
        "address": "杭州市西湖区文三路 1 号",
        "consent": {"sms": True, "call": True},
    }
    if birth_year is not None:
        borrower["birth_year"] = birth_year
    event = {
        "loan_id": loan_id,
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": "2026-11-20",
        "strategy": strategy,
        "borrower": borrower,
    }
    headers = {"Authorization": f"Bearer {site.system_key}"}
    async with httpx.AsyncClient(base_url=site.url, headers=headers) as http:
        answer = await http.post("/v1/overdue-events", json=event)
    assert answer.status_code == 202, answer.text
    return loan_id


async def messages(site: LiveSite) -> list[dict[str, str]]:
    async with httpx.AsyncClient(base_url=site.settings.twilio_base_url) as http:
        answer = await http.get("/sandbox/outbox", params={"to": PHONE})
    found: list[dict[str, str]] = answer.json()["messages"]
    return found


async def wait_message(
    site: LiveSite, pattern: re.Pattern[str], after: int = 0, seconds: float = 30
) -> tuple[str, int]:
    """The first match of ``pattern`` in a message beyond the first ``after``; and the count."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        sent = await messages(site)
        for message in sent[after:]:
            match = pattern.search(message["body"])
            if match:
                return match.group(1), len(sent)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no message matching {pattern.pattern} in {await messages(site)}")


async def first_link(site: LiveSite, loan_id: str) -> str:
    """The token in the case's first reminder (each test's sandbox holds only its own case's)."""
    token, _ = await wait_message(site, LINK)
    assert case_id_for(loan_id)
    return token


async def confirm_by_code(page: Page, site: LiveSite, token: str) -> None:
    await page.goto(f"{site.url}/b/{token}")
    before = len(await messages(site))
    await page.click("#send-code")
    await page.wait_for_selector("#notice")
    code, _ = await wait_message(site, CODE, after=before)
    await page.fill("#code", code)
    await page.click("#check-code")
    await page.wait_for_selector("#balance")
