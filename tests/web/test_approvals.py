"""Approvals: an operator asks for an amount correction on the case page; a supervisor sees it
on ``/approvals`` (who asked, what, why, when), approves it with a note, and the case applies
it. A stale second decision is refused with the case's own sentence in the viewer's language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from api.case_ops import read_case
from audit.timeline import build_timeline, fetch_case_histories
from models.common import Role, Stage, case_id_for
from models.tables import CaseEvent
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, Site, log_in, screenshot
from tests.web.test_dashboard import seed
from tests.web.weights import weighed


async def test_supervisor_approves_an_operators_amount_correction(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    """Asked on the case page, listed and approved on the approvals screen, applied by the case;
    the same decision again from a stale page is refused with the zh-CN sentence."""
    loan_id = await live_site.open_case(factories.open_window_zone())
    operator = await live_site.person(Role.OPERATOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, live_site, operator)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/cases/{loan_id}")
    # Without a reason the form says what is missing and the case is not asked.
    await page.select_option("#req-kind", "amount_correction")
    await page.fill("#req-amount", "1400.00")
    await page.eval_on_selector("#req-reason", "e => e.removeAttribute('required')")
    await page.click("#request-submit")
    await page.wait_for_selector("#refusal")
    assert "Say why" in await page.inner_text("#refusal")
    assert await page.input_value("#req-amount") == "1400.00"  # kept, to correct, not retype
    await page.fill("#req-reason", "late fee waived by the branch")
    await screenshot(page, "case-request-desktop-en")
    await page.click("#request-submit")
    await page.wait_for_url(f"{live_site.url}/cases/{loan_id}?asked=1")
    assert "waiting" in await page.inner_text("#request-1")
    # An operator may not decide, and may not open the screen.
    assert (await page.goto(f"{live_site.url}/approvals")).status == 403  # type: ignore[union-attr]
    assert guard.outside == []

    supervisor = await live_site.person(Role.SUPERVISOR, locale="zh-CN")
    screens = {}
    for viewport in ("phone", "desktop"):
        sup_page, sup_guard = await open_page(viewport, "zh-CN")
        await log_in(sup_page, live_site, supervisor)
        await sup_page.wait_for_url(f"{live_site.url}/")
        await weighed(sup_page, f"{live_site.url}/approvals", f"approvals-{viewport}-zh-CN")
        card = sup_page.locator(f"#req-{loan_id}-1")
        assert operator in await card.locator(".who-asked").inner_text()
        assert "1400.00 CNY" in await card.locator(".asked").inner_text()
        assert "late fee waived by the branch" in await card.locator(".why").inner_text()
        assert "1530.50 CNY" in await card.inner_text()  # what the case says now
        await screenshot(sup_page, f"approvals-{viewport}-zh-CN")
        screens[viewport] = (sup_page, sup_guard)
    english = await live_site.person(Role.SUPERVISOR)
    for viewport in ("phone", "desktop"):
        en_page, en_guard = await open_page(viewport, "en")
        await log_in(en_page, live_site, english)
        await en_page.wait_for_url(f"{live_site.url}/")
        await weighed(en_page, f"{live_site.url}/approvals", f"approvals-{viewport}-en")
        assert "1400.00 CNY" in await en_page.inner_text(f"#req-{loan_id}-1 .asked")
        await screenshot(en_page, f"approvals-{viewport}-en")
        await weighed(en_page, f"{live_site.url}/cases/{loan_id}", f"case-{viewport}-en")
        await screenshot(en_page, f"case-request-{viewport}-en")
        assert en_guard.outside == []
    sup_page, sup_guard = screens["desktop"]
    # A decision without the form's CSRF token is refused before the case is asked.
    forged = await sup_page.request.post(
        f"{live_site.url}/approvals/{loan_id}/1", form={"verdict": "approved"}
    )
    assert forged.status == 403
    await sup_page.fill(f"#anotes-{loan_id}-1", "receipt seen")
    await sup_page.click(f"#req-{loan_id}-1 button.approve")
    await sup_page.wait_for_url(f"{live_site.url}/approvals?done=approved")
    assert await sup_page.locator(f"#req-{loan_id}-1").count() == 0
    await screenshot(sup_page, "approvals-done-desktop-zh-CN")

    client = dev_env.client
    view = await read_case(client, case_id_for(loan_id))
    assert view.amount_overdue == Decimal("1400.00")
    assert [(r.no, r.status, r.by.id) for r in view.requests] == [(1, "approved", operator)]
    timeline = build_timeline(await fetch_case_histories(client, case_id_for(loan_id)))
    decided = [e for e in timeline if e.kind == "request" and e.summary == "request 1 approved"]
    assert [e.actor_id for e in decided] == [supervisor]
    notes = [e for e in timeline if e.kind == "decide_request" and e.source == "update"]
    # The note is sealed (DESIGN §10): the history holds its reference, the reader its words.
    assert notes and notes[0].details.get("notes", "").startswith("text:")
    assert "receipt seen" not in json.dumps([e.model_dump(mode="json") for e in timeline])

    # The phone page was opened before the approval: deciding from it again is refused.
    stale, stale_guard = screens["phone"]
    await stale.click(f"#req-{loan_id}-1 button.decline")
    await stale.wait_for_selector("#refusal")
    assert "没有编号为 1 的待审批申请" in await stale.inner_text("#refusal")
    await screenshot(stale, "approvals-refused-phone-zh-CN")
    assert (await read_case(client, case_id_for(loan_id))).requests[0].status == "approved"
    assert sup_guard.outside == stale_guard.outside == []
    # The case page tells a zh-CN reader what happened, in Chinese, newest first.
    for viewport, shown in screens.items():
        view_page = shown[0]
        await weighed(view_page, f"{live_site.url}/cases/{loan_id}", f"case-{viewport}-zh-CN")
        shown_text = await view_page.inner_text("#timeline")
        assert "申请 1：已批准" in shown_text, shown_text
        assert "receipt seen" in shown_text, shown_text
        assert "逾期金额 1530.50 → 1400.00" in shown_text, shown_text
        assert "已批准" in await view_page.inner_text("#request-1")
        await screenshot(view_page, f"case-approved-{viewport}-zh-CN")


async def test_approvals_say_when_the_cases_cannot_be_asked(
    site: Site, open_page: OpenPage
) -> None:
    """With a request waiting and Temporal unreachable, the page says so (503, a sentence),
    not a JSON error; with nothing waiting it needs no Temporal at all."""
    supervisor = await site.person(Role.SUPERVISOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, site, supervisor)
    await page.wait_for_url(f"{site.url}/")
    answer = await page.goto(f"{site.url}/approvals")
    assert answer is not None and answer.status == 200
    assert "No request is waiting" in await page.inner_text("main")
    await seed(site.database, datetime.now(UTC), site.region)  # the dashboard's portfolio
    async with site.database.session() as session:
        session.add(
            CaseEvent(
                case_id=case_id_for("L-dash-A"),
                seq=99,
                at=datetime.now(UTC),
                stage=Stage.REMINDING,
                kind="request",
                summary="request 1: amount_correction awaits a supervisor",
            )
        )
        await session.commit()
    answer = await page.goto(f"{site.url}/approvals")
    assert answer is not None and answer.status == 503
    assert "cannot be asked right now" in await page.inner_text("#refusal")
    assert "No request is waiting" not in await page.inner_text("main")  # not known, not said
    await screenshot(page, "approvals-unavailable-desktop-en")
    assert guard.outside == []
