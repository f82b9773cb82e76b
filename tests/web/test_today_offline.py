"""The field view offline: the day is cached; an outcome recorded without a network is queued
and reaches the case exactly once, even when the answer to its first send is lost.

How the network is cut: ``context.set_offline(True)`` takes the page offline (its fetches
fail, ``navigator.onLine`` is false), and a route aborts every outcome post as well, since
Playwright's offline mode does not cover a service worker's own requests
(microsoft/playwright#2311; the worker here never handles posts, so the route sees them). The
lost answer is a route that lets the post reach the server (``route.fetch``) and then aborts
it, so the page sees a failed request after the case has recorded it.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, Route
from temporalio.testing import WorkflowEnvironment

from api.case_ops import read_case
from models.common import case_id_for
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.fieldwork import book, collector_in, soon, until_begun

CACHED_DAY = "caches.open('cf-today-v1').then(c => c.match('/today')).then(r => r ? r.text() : '')"


async def _fill_met_with_plan(page: Page, loan_id: str) -> None:
    card = page.locator(f"#visit-{loan_id}")
    await card.locator("summary").click()
    await card.locator("select[name=outcome]").select_option("met")
    await card.locator("select[name=reason]").select_option("illness")
    await card.locator("input[name=income]").fill("5000")
    await card.locator("input[name=expenses]").fill("2000")  # half of 3,000 covers 765
    await card.locator("select[name=plan]").select_option("2")
    await card.locator("form.outcome button[type=submit]").click()


async def test_an_outcome_queued_offline_is_recorded_exactly_once(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    """Offline, the outcome waits in the queue and the case has none; back online, its first
    send is recorded but the answer is lost, the resend is recognised: one outcome, one
    negotiation. A second outcome for the same visit comes back refused, with the sentence."""
    client = dev_env.client
    zone = factories.open_window_zone()
    me, agent = await collector_in(live_site, zone)
    _, partner = await collector_in(live_site, zone)
    loan_id = await live_site.open_case(zone, strategy="straight-to-visit")
    at = soon(5)
    await book(live_site, client, loan_id, at, [agent, partner])
    page, guard = await open_page("phone", "en")
    await log_in(page, live_site, me)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/today")
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()  # now under the worker, which keeps this copy of the day
    assert loan_id in await page.evaluate(CACHED_DAY)
    await until_begun(at)

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    async def no_network(route: Route) -> None:
        await route.abort("internetdisconnected")

    await page.context.set_offline(True)
    await page.route("**/today/*/outcome", no_network)
    await _fill_met_with_plan(page, loan_id)
    await page.wait_for_selector("#queue .queued")
    await screenshot(page, "today-queued-phone-en")
    assert (await read_case(client, case_id_for(loan_id))).visits[-1].outcome is None

    async def lose_answer(route: Route) -> None:
        await route.fetch()  # the case records it ...
        await route.abort("connectionreset")  # ... and the page never hears back

    await page.unroute("**/today/*/outcome", no_network)
    await page.route("**/today/*/outcome", lose_answer, times=1)
    await page.context.set_offline(False)  # fires "online": the queue is sent
    for _ in range(100):
        view = await read_case(client, case_id_for(loan_id))
        if view.visits[-1].outcome is not None:
            break
        await asyncio.sleep(0.1)
    assert await page.locator("#queue .queued").count() == 1  # the lost answer: still queued
    await page.evaluate("window.dispatchEvent(new Event('online'))")  # the next try
    await page.wait_for_selector(f"#visit-{loan_id} .tag.sent", timeout=20_000)
    assert await page.locator("#queue .queued").count() == 0
    view = await read_case(client, case_id_for(loan_id))
    assert [v.outcome.value if v.outcome else None for v in view.visits] == ["met"]
    assert [n.reason.value for n in view.negotiations] == ["illness"]
    assert view.stage.value == "follow_up"
    assert len([p for p in posts if p.endswith("/outcome")]) == 2

    card = page.locator(f"#visit-{loan_id}")
    await card.locator("summary").click()
    await card.locator("select[name=outcome]").select_option("not_home")
    await card.locator("form.outcome button[type=submit]").click()
    refused = await page.wait_for_selector("#queue .refused", timeout=20_000)
    assert refused is not None
    sentence = await refused.inner_text()
    assert loan_id in sentence and "visit" in sentence.lower(), sentence
    await screenshot(page, "today-refused-phone-en")
    view = await read_case(client, case_id_for(loan_id))
    assert [v.outcome.value if v.outcome else None for v in view.visits] == ["met"]

    # Logging out drops the kept day and the queue (Clear-Site-Data): borrowers' details.
    await page.click("form[action='/logout'] button")
    await page.wait_for_url(f"{live_site.url}/login")
    for _ in range(50):
        if await page.evaluate("caches.keys().then(k => k.length)") == 0:
            break
        await asyncio.sleep(0.1)
    assert await page.evaluate("caches.keys()") == []
    assert await page.evaluate("localStorage.getItem('cf-today-queue')") is None
    assert guard.outside == []
