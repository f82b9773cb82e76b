"""The borrower's own page in Debian's Chromium, against Temporal, the real activities and the
Twilio sandbox: the link in the first reminder, the code that unlocks it, the lock, the pages
that reveal nothing, and the borrower's actions through the case."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import time, timedelta

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities import links
from api.case_ops import read_case
from audit.timeline import build_timeline, fetch_case_histories
from models.common import Channel, Role, Stage, case_id_for
from models.tables import BorrowerLink
from tests.web.borrower_helpers import (
    LINK,
    confirm_by_code,
    first_link,
    messages,
    open_case,
    wait_message,
)
from tests.web.conftest import SCREENSHOTS, LiveSite, OpenPage, log_in, screenshot
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def _link_row(site: LiveSite, token: str) -> BorrowerLink:
    async with site.database.session() as session:
        row = (
            await session.exec(
                select(BorrowerLink).where(BorrowerLink.token_hash == links.token_hash(token))
            )
        ).one()
        return row


async def test_first_reminder_links_to_a_page_the_code_unlocks(
    live_site: LiveSite, open_page: OpenPage
) -> None:
    """The first reminder SMS carries the link; opening it (twice: SMS apps prefetch) shows the
    company and the amount only and changes nothing; the texted code unlocks the balance."""
    loan_id = await open_case(live_site, locale="zh-CN")
    token = await first_link(live_site, loan_id)
    page, guard = await open_page("phone", "zh-CN")
    url = f"{live_site.url}/b/{token}"
    first_weight = await weigh(page, url)
    assert first_weight < MAX_PAGE_BYTES
    await page.goto(url)
    shown = await page.inner_text("main")
    assert "汇流金融" in shown and "1530.50 CNY" in await page.inner_text("#amount-due")
    for hidden in ("王芳", loan_id, "9800", "文三路"):
        assert hidden not in await page.content()
    row = await _link_row(live_site, token)
    assert (row.codes_sent, row.failed_tries, row.confirmed_at) == (0, 0, None)
    await page.set_viewport_size({"width": 360, "height": 740})
    await screenshot(page, "borrower-confirm-phone360-zh-CN")
    await confirm_by_code(page, live_site, token)
    assert "1530.50" in await page.inner_text("#balance")
    assert loan_id in await page.inner_text("main")
    confirmed_weight = await weigh(page, url)
    assert confirmed_weight < MAX_PAGE_BYTES
    await screenshot(page, "borrower-page-phone360-zh-CN")
    weights = {"before_confirmation": first_weight, "after_confirmation": confirmed_weight}
    (SCREENSHOTS / "borrower-weights.json").write_text(json.dumps(weights))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto(f"{url}?count=3")
    assert len(await page.query_selector_all("#plan-preview tbody tr")) == 3
    await screenshot(page, "borrower-page-desktop-zh-CN")
    await page.click("a[lang=en]")
    await page.wait_for_selector("#balance")
    assert "What you owe" in await page.inner_text("main")
    await screenshot(page, "borrower-page-desktop-en")
    await page.set_viewport_size({"width": 360, "height": 740})
    await page.goto(f"{url}?count=3")
    await screenshot(page, "borrower-page-phone360-en")
    assert guard.outside == []


async def test_five_wrong_answers_lock_the_link(live_site: LiveSite, open_page: OpenPage) -> None:
    """Five wrong codes lock the link for the backoff period; the right code then does not
    open it, and the page says how to get a new link."""
    loan_id = await open_case(live_site, locale="en", birth_year=1984)
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await page.goto(f"{live_site.url}/b/{token}")
    for _ in range(4):
        await page.fill("#year", "1999")
        await page.click("#year ~ button")
        await page.wait_for_selector("#notice")
        assert "did not match" in await page.inner_text("#notice")
    await page.fill("#year", "1999")
    await page.click("#year ~ button")
    await page.wait_for_selector("#locked")
    row = await _link_row(live_site, token)
    assert row.locks == 1 and row.locked_until is not None
    await screenshot(page, "borrower-locked-phone-en")
    answer = await page.request.post(
        f"{live_site.url}/b/{token}/confirm", form={"year": "1984", "csrf": "x"}
    )
    assert answer.status in (403, 423)
    await page.goto(f"{live_site.url}/b/{token}")
    assert await page.query_selector("#locked") is not None
    assert "new link" in await page.inner_text("main")
    # The operators are told: the worklist asks for a call to this borrower.
    operator = await live_site.person(Role.OPERATOR)
    desk, _ = await open_page("desktop", "en")
    await log_in(desk, live_site, operator)
    await desk.wait_for_url(f"{live_site.url}/")
    await desk.goto(f"{live_site.url}/worklist")
    assert loan_id in await desk.inner_text("#replies + table")
    assert await desk.query_selector("#replies + table .page-locked") is not None


async def test_year_of_birth_confirms(live_site: LiveSite, open_page: OpenPage) -> None:
    """Where the loan system sent a year of birth, it confirms the borrower without a code."""
    loan_id = await open_case(live_site, locale="en", birth_year=1984)
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("desktop", "en")
    await page.goto(f"{live_site.url}/b/{token}")
    await screenshot(page, "borrower-confirm-desktop-en")
    await page.fill("#year", "1984")
    await page.click("#year ~ button")
    await page.wait_for_selector("#balance")
    assert loan_id in await page.inner_text("main")


async def test_links_that_reveal_nothing(live_site: LiveSite, open_page: OpenPage) -> None:
    """A guessed, malformed, revoked (a newer link was sent) or expired token all answer the
    same page, naming neither company nor amount; a confirmed session opens no other link."""
    loan_a = await open_case(live_site, locale="en")
    token_a = await first_link(live_site, loan_a)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token_a)
    row = await _link_row(live_site, token_a)
    newer = await links.mint(
        live_site.database,
        live_site.settings.session_secret,
        case_id=row.case_id,
        loan_id=row.loan_id,
        contact_key=f"{row.case_id}/test-newer",
    )
    guessed = secrets.token_urlsafe(16)[:22]
    gone = [token_a, guessed, "short", "x" * 300, "abc.def~"]
    for token in gone:
        answer = await page.goto(f"{live_site.url}/b/{token}")
        assert answer is not None and answer.status == 404, token
        text = await page.inner_text("main")
        assert "cannot be opened" in text and "1530" not in text and "Huiliu" not in text
    await screenshot(page, "borrower-gone-phone-en")
    # The newer link is for the same case, but the session was the older link's.
    await page.goto(f"{live_site.url}/b/{newer}")
    assert await page.query_selector("#balance") is None
    assert await page.query_selector("#send-code") is not None
    live_site.move_clock(live_site.web.clock() + timedelta(days=15))
    answer = await page.goto(f"{live_site.url}/b/{newer}")
    assert answer is not None and answer.status == 404
    for path in ("/code", "/confirm", "/act/promise", "/act/nothing"):
        posted = await page.request.post(f"{live_site.url}/b/{guessed}{path}", form={"a": "b"})
        assert posted.status == 404, path


async def test_dispute_and_opt_out_go_through_the_case(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """Opting out of SMS and opening a dispute are the borrower's actions on the case (actor
    role borrower); each is confirmed inline, and contact stops."""
    loan_id = await open_case(live_site, locale="en")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token)
    await page.fill("#dispute-text", "I repaid this in October")
    await page.click("#dispute-h ~ form button")
    await page.wait_for_selector("#notice")
    assert "dispute is recorded" in await page.inner_text("#notice")
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert view.dispute_open
    await page.click("#optout-sms")
    await page.wait_for_selector("#notice")
    assert "not contact you that way" in await page.inner_text("#notice")
    await screenshot(page, "borrower-done-phone-en", full_page=False)
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert Channel.SMS in view.opted_out
    assert any("dispute" in m["body"] for m in await messages(live_site))
    # The audit timeline (and the console's case page, which reads it) names the borrower.
    entries = build_timeline(await fetch_case_histories(dev_env.client, case_id_for(loan_id)))
    kinds = {e.kind for e in entries if e.actor_role == "borrower"}
    assert kinds, [e.summary for e in entries]
    # Opted out and disputed, the borrower can still ask for a code: it answers their request
    # (a minute later: one code a minute per link).
    live_site.move_clock(live_site.web.clock() + timedelta(minutes=2))
    other, _ = await open_page("desktop", "en")
    await confirm_by_code(other, live_site, token)


async def test_a_refusal_of_the_case_is_shown_inline(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """Where the case refuses (a promise of more than is owed), the page shows the case's own
    sentence and nothing changes."""
    loan_id = await open_case(live_site, locale="en")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("desktop", "en")
    await confirm_by_code(page, live_site, token)
    await page.fill("#promise-amount", "99999.00")
    await page.click("#promise-h ~ form button")
    await page.wait_for_selector("#refusal")
    assert "exceeds the balance" in await page.inner_text("#refusal")
    # In Chinese, the case's own sentence in Chinese (the core gives both).
    sent = len(await messages(live_site))
    await open_case(live_site, locale="zh-CN")
    zh_token, _ = await wait_message(live_site, LINK, after=sent)  # the new case's link
    zh_page, _ = await open_page("phone", "zh-CN")
    await confirm_by_code(zh_page, live_site, zh_token)
    await zh_page.fill("#promise-amount", "99999.00")
    await zh_page.click("#promise-h ~ form button")
    await zh_page.wait_for_selector("#refusal")
    assert "超过了待还余额" in await zh_page.inner_text("#refusal")
    await screenshot(page, "borrower-refusal-desktop-en", full_page=False)
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert view.promises == [] and view.stage is not Stage.FOLLOW_UP


async def test_promise_puts_the_case_in_follow_up(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """A promise on the page: the case is in follow-up with that promise, and an SMS says so."""
    loan_id = await open_case(live_site, locale="en")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token)
    before = len(await messages(live_site))
    await page.fill("#promise-amount", "500.00")
    await page.click("#promise-h ~ form button")
    await page.wait_for_selector("#notice")
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert view.stage is Stage.FOLLOW_UP and view.promises[-1].amount == 500
    await wait_message(live_site, re.compile("(promise)"), after=before)


async def test_three_installments_are_texted(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """The calculator shows three installments; agreeing makes the plan, texted in full."""
    loan_id = await open_case(live_site, locale="en")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token)
    before = len(await messages(live_site))
    await page.select_option("#plan-count", "3")
    await page.click("#plan-count ~ button")
    await page.click("#agree-plan")
    await page.wait_for_selector("#notice")
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert view.plan is not None and len(view.plan.installments) == 3
    body, _ = await wait_message(live_site, re.compile(r"(3 installments.*)"), after=before)
    assert all(i.due_date.isoformat() in body for i in view.plan.installments)


async def test_hardship_pauses_contact(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """A pause asked for on the page: the case's contact is paused until its end."""
    loan_id = await open_case(live_site, locale="en")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token)
    await page.select_option("#hardship-days", "14")
    await page.click("#hardship-h ~ form button")
    await page.wait_for_selector("#notice")
    view = await read_case(dev_env.client, case_id_for(loan_id))
    assert view.hardship_until is not None


async def test_accepting_an_offered_slot_schedules_the_visit(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """In stage visit the page offers the proposal's slots; accepting one books the visit for
    it (two collectors of the region are there to staff it)."""
    for _ in range(2):
        await live_site.person(Role.OPERATOR, collector=True)
    loan_id = await open_case(live_site, locale="en", strategy="straight-to-visit")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "en")
    await confirm_by_code(page, live_site, token)
    slot = await page.get_attribute("input[name=slot][checked]", "value")
    assert slot is not None
    await page.click("#accept-slot")
    await page.wait_for_selector("#notice")
    view = await read_case(dev_env.client, case_id_for(loan_id))
    booked = view.visits[-1].scheduled_at
    assert booked is not None and booked.isoformat() == slot


async def test_preferred_hours_reach_the_case_and_are_confirmed(
    live_site: LiveSite, open_page: OpenPage, dev_env: WorkflowEnvironment
) -> None:
    """The borrower picks 18:00-20:00: the case contacts only then (the core narrows its
    window), the page says so, and an SMS repeats it. No JavaScript is involved."""
    loan_id = await open_case(live_site, locale="zh-CN")
    token = await first_link(live_site, loan_id)
    page, _ = await open_page("phone", "zh-CN")
    await confirm_by_code(page, live_site, token)
    before = len(await messages(live_site))
    await page.select_option("#hours-from", "18")
    await page.select_option("#hours-to", "20")
    await page.click("#hours-save")
    await page.wait_for_selector("#notice")
    case_id = case_id_for(loan_id)
    for _ in range(50):
        view = await read_case(dev_env.client, case_id)
        if view.preferred_hours:
            break
        await asyncio.sleep(0.1)
    assert view.preferred_hours == [time(18), time(20)]
    await wait_message(live_site, re.compile("(18:00-20:00)"), after=before)
    await page.reload()
    assert "18:00–20:00" in await page.inner_text("#contact-h ~ form .tag")
    await screenshot(page, "borrower-hours-phone-zh-CN", full_page=True)
    await page.select_option("#hours-from", "20")  # an empty window is refused on the page
    await page.select_option("#hours-to", "19")
    await page.click("#hours-save")
    await page.wait_for_selector("#refusal")
