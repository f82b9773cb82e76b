"""Log a call from the case page: the operator's own call goes on the case through the same
update as ``POST /v1/cases/{loan_id}/contacts``, and the contact rules count it."""

from __future__ import annotations

from models.common import Role
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def test_operator_logs_a_call_and_the_case_counts_it(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    loan_id = await live_site.open_case(factories.open_window_zone())
    for lang, viewport in (("zh-CN", "phone"), ("en", "desktop")):
        operator = await live_site.person(Role.OPERATOR, locale=lang)
        page, guard = await open_page(viewport, lang)
        await log_in(page, live_site, operator)
        await page.wait_for_url(f"{live_site.url}/")
        assert await weigh(page, f"{live_site.url}/cases/{loan_id}") < MAX_PAGE_BYTES
        await page.goto(f"{live_site.url}/cases/{loan_id}")
        await page.select_option("#call-outcome", "no_answer")
        await page.fill("#call-notes", "rang twice")
        await screenshot(page, f"case-log-call-{viewport}-{lang}")
        await page.click("#call-submit")
        await page.wait_for_url(f"{live_site.url}/cases/{loan_id}?called=1")
        assert await page.locator("#notice, .notice").count() >= 1
        assert guard.outside == []
    # Both calls are on the case's contact log as the operators' own, counted by the caps.
    contacts = await page.inner_text("table")
    assert "manual-1" in contacts and "manual-2" in contacts
    # A promise needs its amount and days: the form says so and nothing is logged.
    await page.select_option("#call-outcome", "promise")
    await page.click("#call-submit")
    await page.wait_for_selector("#refusal")
    assert "promise needs an amount" in await page.inner_text("#refusal")
    assert "manual-3" not in await page.inner_text("table")
