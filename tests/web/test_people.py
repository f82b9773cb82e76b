"""The administrator's people screen: a locked account is shown and unlocked by a click."""

from __future__ import annotations

import httpx

from models.common import Role
from tests.web.conftest import OpenPage, Site, log_in, screenshot
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def test_admin_unlocks_a_locked_account(site: Site, open_page: OpenPage) -> None:
    """Five failures lock an operator; the admin sees "locked", clicks Unlock, and the operator
    logs in at once. Only an admin opens the screen."""
    operator = await site.person(Role.OPERATOR)
    victim, _ = await open_page("desktop", "en")
    for _ in range(5):
        await log_in(victim, site, operator, "not the password")
    for lang in ("en", "zh-CN"):
        admin = await site.person(Role.ADMIN, locale=lang)  # the user's setting picks the language
        for viewport in ("desktop", "phone"):
            page, guard = await open_page(viewport, lang)
            await log_in(page, site, admin)
            await page.wait_for_url(f"{site.url}/")
            assert await weigh(page, f"{site.url}/users") < MAX_PAGE_BYTES
            await screenshot(page, f"people-{viewport}-{lang}")
            assert guard.outside == []
    row = page.locator(f"#user-{operator}")
    assert "已锁定" in await row.inner_text()
    await row.locator("form[action$='/unlock'] button").click()
    await page.wait_for_url(f"{site.url}/users?done=unlock")
    assert "已锁定" not in await page.locator(f"#user-{operator}").inner_text()
    await log_in(victim, site, operator)
    await victim.wait_for_url(f"{site.url}/")
    cookies = {c["name"]: c["value"] for c in await victim.context.cookies()}
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as http:
        assert (await http.get("/users")).status_code == 403
