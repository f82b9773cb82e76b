"""The field collector's day on a phone: real cases, Temporal, the read model, Chromium."""

from __future__ import annotations

import hashlib

from temporalio.testing import WorkflowEnvironment

from activities.vault import files
from activities.vault.store import Vault
from api.case_ops import read_case
from api.vaulting import borrower_of_case, opened_model
from audit.timeline import fetch_case_histories
from models.common import case_id_for
from tests import factories
from tests.pii_search import history_text
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.fieldwork import book, collector_in, soon, until_begun
from tests.web.test_login import MAX_PAGE_BYTES, weigh

# What a collector may write at the door: it names a neighbour (sealed, never in Temporal).
DOOR_NOTES = "Neighbour Wang Fangxiu says he works nights at the depot"
# The smallest file that opens as a JPEG's header; the server judges the type by these bytes.
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(200)


async def test_collector_records_met_with_a_plan_and_a_photo(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    """On a 390x844 phone the day lists the visits in time order with the partner; "met" with
    a reason, income and expenses and a plan the calculator offers moves the case to
    follow-up; the photo's SHA-256 is on the case."""
    client = dev_env.client
    zone = factories.open_window_zone()
    me, my_agent = await collector_in(live_site, zone)
    _, partner_agent = await collector_in(live_site, zone)
    later_loan = await live_site.open_case(zone, strategy="straight-to-visit")
    first_loan = await live_site.open_case(zone, strategy="straight-to-visit")
    first_at, later_at = soon(6), soon(3600)
    await book(live_site, client, later_loan, later_at, [my_agent, partner_agent])
    await book(live_site, client, first_loan, first_at, [my_agent, partner_agent])
    page, guard = await open_page("phone", "en")
    await log_in(page, live_site, me)
    await page.wait_for_url(f"{live_site.url}/")
    assert await weigh(page, f"{live_site.url}/today") < MAX_PAGE_BYTES
    cards = page.locator("li.visit")
    assert [await cards.nth(i).get_attribute("data-loan") for i in range(2)] == [
        first_loan,
        later_loan,
    ]
    card = page.locator(f"#visit-{first_loan}")
    assert partner_agent in await card.locator(".partner").inner_text()
    assert "文三路" in await card.locator(".address").inner_text()
    await until_begun(first_at)
    await card.locator("form.checkin button").click()
    await card.locator("summary").click()
    await card.locator("select[name=outcome]").select_option("met")
    await card.locator("select[name=reason]").select_option("unemployment")
    await card.locator("input[name=income]").fill("3000")
    await card.locator("input[name=expenses]").fill("2400")
    plans = card.locator("select[name=plan] option:not([disabled])")
    offered = [await plans.nth(i).get_attribute("value") for i in range(await plans.count())]
    # 1530.50 CNY, demo bounds: 2-12 installments, each at least 10% (153.05): 2-10 fit (ten
    # of 153.05). The affordability rule (on by default) allows half of the 600 left a month,
    # so the page keeps installments of at most 300: 6 (255.08) to 10; 5 (306.10) is hidden.
    assert offered == [str(n) for n in range(6, 11)], offered
    await card.locator("select[name=plan]").select_option("6")
    await card.locator("textarea[name=notes]").fill(DOOR_NOTES)
    await screenshot(page, "today-outcome-phone-en")
    await card.locator("form.outcome button[type=submit]").click()
    await page.wait_for_selector(f"#visit-{first_loan} .tag.sent", timeout=20_000)
    await card.locator("input[type=file]").set_input_files(
        {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}
    )
    await card.locator("form.evidence button").click()
    await page.wait_for_selector("p.notice")
    assert hashlib.sha256(PHOTO).hexdigest()[:12] in await page.inner_text("p.notice")
    await screenshot(page, "today-evidence-phone-en")
    view = await read_case(client, case_id_for(first_loan))
    assert view.stage.value == "follow_up"
    assert view.plan is not None and len(view.plan.installments) == 6
    assert [n.reason.value for n in view.negotiations] == ["unemployment"]
    assert view.negotiations[0].monthly_income == 3000
    texts = " ".join(n.text for n in view.notes)
    assert f"sha256 {hashlib.sha256(PHOTO).hexdigest()}" in texts
    assert "checked in at the borrower's address" in texts
    assert view.visits[-1].recorded_by is not None and view.visits[-1].recorded_by.id == me
    # The photo is kept sealed under the borrower's key; it opens to the bytes shown.
    borrower_id = await borrower_of_case(live_site.database, case_id_for(first_loan))
    assert borrower_id is not None
    vault = Vault.from_settings(live_site.database, live_site.settings)
    kept = list(files.borrower_folder(live_site.settings.data_dir, borrower_id).glob("*.sealed"))
    assert len(kept) == 1 and PHOTO not in kept[0].read_bytes()
    assert await files.open_file(vault, borrower_id, kept[0]) == PHOTO
    # What the collector wrote is sealed too: the history holds a reference, the reader the words.
    assert "text:" in view.visits[-1].notes and "Wang" not in view.visits[-1].notes
    assert "text:" in view.negotiations[0].details["notes"]
    histories = await fetch_case_histories(client, case_id_for(first_loan))
    assert histories and not any("Wang Fangxiu" in history_text(h) for h in histories)
    opened = await opened_model(vault, view)
    assert DOOR_NOTES in opened.visits[-1].notes
    assert DOOR_NOTES in opened.negotiations[0].details["notes"]
    assert guard.outside == []


async def test_terms_the_case_refuses_are_sent_again_after_met(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    """ "met" with a promise beyond the strategy's window: the case takes "met" and refuses the
    promise with its sentence; the card still offers the form, and a promise within the window
    completes the outcome — one visit outcome, one negotiation."""
    client = dev_env.client
    zone = factories.open_window_zone()
    me, my_agent = await collector_in(live_site, zone, locale="zh-CN")
    _, partner_agent = await collector_in(live_site, zone)
    loan_id = await live_site.open_case(zone, strategy="straight-to-visit")
    at = soon(4)
    await book(live_site, client, loan_id, at, [my_agent, partner_agent])
    page, guard = await open_page("phone", "zh-CN")
    await log_in(page, live_site, me)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/today")
    await until_begun(at)

    async def promise(days: str) -> None:
        card = page.locator(f"#visit-{loan_id}")
        await card.locator("summary").click()
        await card.locator("select[name=outcome]").select_option("met")
        await card.locator("select[name=reason]").select_option("forgot")
        await card.locator("select[name=result]").select_option("promise")
        await card.locator("input[name=promise_amount]").fill("500")
        await card.locator("input[name=promise_days]").fill(days)
        await card.locator("form.outcome button[type=submit]").click()

    await promise("30")  # the demo strategy's window: 14 days
    refused = await page.wait_for_selector("#queue .refused", timeout=20_000)
    assert refused is not None and "14" in await refused.inner_text()
    await screenshot(page, "today-terms-refused-phone-zh-CN")
    await page.reload()
    await promise("5")
    await page.wait_for_selector(f"#visit-{loan_id} .tag.sent", timeout=20_000)
    view = await read_case(client, case_id_for(loan_id))
    assert [v.outcome.value if v.outcome else None for v in view.visits] == ["met"]
    assert [n.result.value for n in view.negotiations] == ["promise"]
    assert view.stage.value == "follow_up" and view.promises[-1].amount == 500
    assert guard.outside == []
