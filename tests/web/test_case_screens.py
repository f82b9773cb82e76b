"""The worklist and the case page on a real case (Temporal, real activities, SQL read model)."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from models.common import Role, case_id_for
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot, twilio_post
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def test_operator_finds_the_case_and_reveals_the_phone(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    """The worklist lists the case due today; the case page masks the borrower; revealing the
    phone needs a reason and puts who, when and why on the timeline."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    operator = await live_site.person(Role.OPERATOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, live_site, operator)
    await page.wait_for_url(f"{live_site.url}/")
    assert await weigh(page, f"{live_site.url}/worklist") < MAX_PAGE_BYTES
    await page.click(f"#due + table a:text('{loan_id}')")
    await page.wait_for_url(f"{live_site.url}/cases/{loan_id}")
    assert (await page.inner_text("#borrower-phone")).startswith("+861")
    assert "*" in await page.inner_text("#borrower-phone")
    assert "王*" in await page.inner_text("#borrower-name")
    assert "9800" not in await page.inner_text("#balance")  # the case collects the overdue
    await page.select_option("#detail", "phone")
    await page.fill("#reason", "calling back as asked")
    await page.click("form.reveal button")
    await page.wait_for_selector("#borrower-phone .tag")
    assert "+8613800138000" in await page.inner_text("#borrower-phone")
    await screenshot(page, "case-revealed-desktop-en")
    timeline = await page.inner_text("#timeline")
    assert "revealed the borrower's phone — why: calling back as asked" in timeline
    assert operator in timeline
    assert guard.outside == []
    # A reload shows the masked phone again: the reveal was for that one answer.
    await page.goto(f"{live_site.url}/cases/{loan_id}")
    assert "+8613800138000" not in await page.inner_text("#borrower")


async def test_case_screens_in_both_languages_and_sizes(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    """Worklist and case page, phone and desktop, zh-CN and en, each under 100 KB."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    for lang in ("zh-CN", "en"):
        operator = await live_site.person(Role.OPERATOR, locale=lang)
        for viewport in ("phone", "desktop"):
            page, guard = await open_page(viewport, lang)
            await log_in(page, live_site, operator)
            await page.wait_for_url(f"{live_site.url}/")
            for name, path in (("worklist", "/worklist"), ("case", f"/cases/{loan_id}")):
                assert await weigh(page, live_site.url + path) < MAX_PAGE_BYTES
                await screenshot(page, f"{name}-{viewport}-{lang}")
            assert guard.outside == []


async def test_auditor_sees_no_write_form_and_a_forged_post_is_refused(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    """The auditor reads the case without any form; a POST with the auditor's own valid CSRF
    token is still 403, and the worklist is not the auditor's screen."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    auditor = await live_site.person(Role.AUDITOR)
    page, _ = await open_page("desktop", "en")
    await log_in(page, live_site, auditor)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/cases/{loan_id}")
    assert await page.query_selector_all("main form") == []
    await screenshot(page, "case-auditor-desktop-en")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    token = await page.get_attribute("form[action='/logout'] input[name=csrf]", "value")
    async with httpx.AsyncClient(base_url=live_site.url, cookies=cookies) as http:
        forged = await http.post(
            f"/cases/{loan_id}/notes", data={"csrf": token or "", "text": "auditor note"}
        )
        assert forged.status_code == 403
        assert (await http.get("/worklist")).status_code == 403
        no_token = await http.post(f"/cases/{loan_id}/notes", data={"text": "x"})
        assert no_token.status_code == 403


async def test_a_claimed_case_shows_who_holds_it(live_site: LiveSite, open_page: OpenPage) -> None:
    """One operator claims the case; the worklist and the case page show it to another, whose
    claim is refused with a sentence until the holder releases it."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    first = await live_site.person(Role.OPERATOR)
    second = await live_site.person(Role.OPERATOR)
    page, _ = await open_page("desktop", "en")
    await log_in(page, live_site, first)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/cases/{loan_id}")
    await page.click("form[action$='/claim'] button")
    await page.wait_for_selector(f"#claim .tag:text('worked by {first}')")
    other, _ = await open_page("phone", "en")
    await log_in(other, live_site, second)
    await other.wait_for_url(f"{live_site.url}/")
    await other.goto(f"{live_site.url}/worklist")
    assert f"worked by {first}" in await other.inner_text("#due + table")
    await screenshot(other, "worklist-claimed-phone-en")
    await other.goto(f"{live_site.url}/cases/{loan_id}")
    assert await other.query_selector("form[action$='/claim']") is None
    token = await other.get_attribute("form[action='/logout'] input[name=csrf]", "value")
    taken = await other.request.post(
        f"{live_site.url}/cases/{loan_id}/claim", form={"csrf": token or ""}, max_redirects=0
    )
    assert taken.status == 409 and "Someone else is working this case" in await taken.text()
    await page.click("form[action$='/release'] button")
    await page.wait_for_selector("#claim .muted")
    await other.reload()
    await other.click("form[action$='/claim'] button")
    await other.wait_for_selector(f"#claim .tag:text('worked by {second}')")


async def test_replies_and_call_back_requests_reach_the_worklist(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    """A free-text SMS reply and an IVR key 2, sent through the signed Twilio webhooks, appear
    under replies and call-back requests, newest first, each linking to its case."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    case = case_id_for(loan_id)
    sms = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "From": "+8613800138000",
        "Body": "明天再还可以吗",
    }
    await twilio_post(live_site, "/webhooks/twilio/inbound", f"case_id={case}", sms)
    key = {"CallSid": f"CA{uuid.uuid4().hex}", "Digits": "2"}
    await twilio_post(live_site, "/webhooks/twilio/gather", f"case_id={case}&locale=zh-CN", key)
    operator = await live_site.person(Role.OPERATOR, locale="zh-CN")
    page, _ = await open_page("phone", "zh-CN")
    await log_in(page, live_site, operator)
    await page.wait_for_url(f"{live_site.url}/")
    rows = page.locator("#replies + table tbody tr")
    for _ in range(100):  # the case's events reach the read model with its next activity
        await page.goto(f"{live_site.url}/worklist")
        if await rows.count() >= 2:
            break
        await asyncio.sleep(0.2)
    texts = [await rows.nth(i).inner_text() for i in range(await rows.count())]
    assert len(texts) == 2, texts
    assert "请求回电" in texts[0] and loan_id in texts[0]
    assert "明天再还可以吗" in texts[1] and loan_id in texts[1]
    await screenshot(page, "worklist-replies-phone-zh-CN")


async def test_contact_log_shows_each_decision(live_site: LiveSite, open_page: OpenPage) -> None:
    """On a case that has sent reminders (one-second strategy days, the Twilio sandbox), the
    contact log lists each contact with the gate's decision."""
    loan_id = await live_site.open_case(factories.open_window_zone(), strategy="fast")
    operator = await live_site.person(Role.OPERATOR)
    page, _ = await open_page("desktop", "en")
    await log_in(page, live_site, operator)
    await page.wait_for_url(f"{live_site.url}/")
    rows = page.locator("h2:text('Contact log') + table tbody tr")
    texts: list[str] = []
    for _ in range(100):  # reminders arrive one per strategy second; wait for the first SMS
        await page.goto(f"{live_site.url}/cases/{loan_id}")
        texts = [await rows.nth(i).inner_text() for i in range(await rows.count())]
        if any("SMS" in text for text in texts):
            break
        await asyncio.sleep(0.2)
    assert any("SMS" in text for text in texts), texts
    for text in texts:  # newest first; each row names its channel and the gate's decision
        assert "SMS" in text or "call" in text, text
        assert any(word in text for word in ("sent", "deferred", "blocked")), text
    await screenshot(page, "case-contacts-desktop-en")
