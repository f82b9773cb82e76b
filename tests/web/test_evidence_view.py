"""Visit evidence on the case page: listed for everyone who reads the case, opened (the sealed
file decrypted, never cached, each opening logged) for supervisors, auditors and admins only;
after erasure there is nothing to open. Real case on Temporal, SQLite, Chromium."""

from __future__ import annotations

import hashlib

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.vault import files
from activities.vault.erase import erase_borrower
from activities.vault.store import Vault
from api.vaulting import borrower_of_case
from models.common import Role, case_id_for
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.test_evidence_limits import _session
from tests.web.test_today import PHOTO


async def test_supervisor_opens_a_visit_photo_and_an_operator_may_not(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    loan_id = await live_site.open_case(factories.open_window_zone())
    collector = await live_site.person(Role.OPERATOR, collector=True)
    cookies, csrf = await _session(live_site, open_page, collector)
    async with httpx.AsyncClient(base_url=live_site.url, cookies=cookies) as http:
        sent = await http.post(
            f"/today/{loan_id}/evidence",
            data={"csrf": csrf},
            files={"file": ("door.jpg", PHOTO, "image/jpeg")},
            headers={"Accept": "application/json"},
        )
    assert sent.status_code == 200, sent.text
    sha = hashlib.sha256(PHOTO).hexdigest()
    link = f"{live_site.url}/cases/{loan_id}/evidence/{sha}"

    supervisor = await live_site.person(Role.SUPERVISOR, locale="zh-CN")
    page, guard = await open_page("desktop", "zh-CN")
    await log_in(page, live_site, supervisor)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/cases/{loan_id}")
    listed = page.locator("#evidence + ul li")
    await listed.first.wait_for()
    assert (
        sha[:12] in await listed.first.inner_text() and collector in await listed.first.inner_text()
    )
    assert await listed.first.locator("a").get_attribute("href") == link.removeprefix(live_site.url)
    await screenshot(page, "case-evidence-desktop-zh-CN")
    opened = await page.request.get(link)
    assert opened.status == 200 and await opened.body() == PHOTO
    assert opened.headers["content-type"] == "image/jpeg"
    assert opened.headers["cache-control"] == "no-store"
    missing = await page.request.get(link.replace(sha, "0" * 64))
    assert missing.status == 404
    assert guard.outside == []

    operator = await live_site.person(Role.OPERATOR)
    op_page, _ = await open_page("phone", "en")
    await log_in(op_page, live_site, operator)
    await op_page.wait_for_url(f"{live_site.url}/")
    await op_page.goto(f"{live_site.url}/cases/{loan_id}")
    item = op_page.locator("#evidence + ul li").first
    await item.wait_for()
    assert await item.locator("a").count() == 0  # listed, not openable by an operator
    await screenshot(op_page, "case-evidence-phone-en")
    assert (await op_page.request.get(link)).status == 403

    borrower_id = await borrower_of_case(live_site.database, case_id_for(loan_id))
    assert borrower_id is not None
    vault = Vault.from_settings(live_site.database, live_site.settings)
    await erase_borrower(vault, borrower_id, "dpo-1")
    files.erase_files(live_site.settings.data_dir, borrower_id)
    gone = await page.request.get(link)
    assert gone.status == 404 and "已被删除" in await gone.text()  # the supervisor reads zh-CN
