"""Today, the audit screens, phone and desktop, zh-CN and en: each under 100 KB, nothing
fetched from outside this machine, a screenshot of each for a person to look at."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from models.common import Role
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.fieldwork import book, collector_in, soon
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def test_field_and_audit_screens_in_both_languages_and_sizes(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    zone = factories.open_window_zone()
    _, partner = await collector_in(live_site, zone)
    people = {lang: await collector_in(live_site, zone, locale=lang) for lang in ("en", "zh-CN")}
    loan_id = await live_site.open_case(zone, strategy="straight-to-visit")
    agents = [partner, people["en"][1], people["zh-CN"][1]]
    await book(live_site, dev_env.client, loan_id, soon(1800), agents)
    for lang, (collector, _) in people.items():
        auditor = await live_site.person(Role.AUDITOR, locale=lang)
        for viewport in ("phone", "desktop"):
            page, guard = await open_page(viewport, lang)
            await log_in(page, live_site, collector)
            await page.wait_for_url(f"{live_site.url}/")
            assert await weigh(page, f"{live_site.url}/today") < MAX_PAGE_BYTES
            await page.goto(f"{live_site.url}/today")
            await page.locator(f"#visit-{loan_id} summary").click()
            await screenshot(page, f"today-{viewport}-{lang}")
            assert guard.outside == []
            other, guard = await open_page(viewport, lang)
            await log_in(other, live_site, auditor)
            await other.wait_for_url(f"{live_site.url}/")
            for name, path in (("audit", "/audit"), ("audit-case", f"/audit/{loan_id}")):
                assert await weigh(other, live_site.url + path) < MAX_PAGE_BYTES
                await screenshot(other, f"{name}-{viewport}-{lang}")
            assert guard.outside == []
