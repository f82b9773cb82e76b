"""Login in Chromium: roles and their screens, CSRF, lockout, logout, cookies, page weight."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Page

from models.common import Role
from tests.web.conftest import OpenPage, Site, log_in, screenshot, utc
from web.screens import SCREENS

MAX_PAGE_BYTES = 100 * 1024


WEIGHT_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const parts = performance.getEntriesByType("resource").filter(e => e.initiatorType !== "img");
  return nav.decodedBodySize + parts.reduce((sum, e) => sum + e.decodedBodySize, 0);
}"""


async def weigh(page: Page, url: str) -> int:
    """Bytes of the page and everything it loaded but images, decoded (uncompressed) — so an
    upper bound on what travels — counted by the browser's own performance entries."""
    await page.goto(url, wait_until="networkidle")
    weight: int = await page.evaluate(WEIGHT_JS)
    assert weight > 0
    return weight


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
async def test_each_role_sees_only_its_screens(site: Site, open_page: OpenPage, role: Role) -> None:
    """After login the start page offers exactly the role's screens, in the nav and as tiles."""
    username = await site.person(role)
    page, guard = await open_page("desktop", "en")
    await log_in(page, site, username)
    await page.wait_for_url(f"{site.url}/")
    tiles = [await a.get_attribute("href") for a in await page.query_selector_all(".tile")]
    nav = [await a.get_attribute("href") for a in await page.query_selector_all(".nav a")]
    assert tiles == nav == [screen.path for screen in SCREENS[role]]
    assert "Test" in await page.inner_text(".who")
    assert guard.outside == []


async def test_login_pages_in_both_languages_and_sizes(site: Site, open_page: OpenPage) -> None:
    """The login form and the start page, phone and desktop, zh-CN and en: under 100 KB each,
    in the browser's language, and switchable."""
    username = await site.person(Role.OPERATOR, locale="zh-CN")
    for viewport in ("phone", "desktop"):
        for lang, title in (("zh-CN", "登录"), ("en", "Log in")):
            page, guard = await open_page(viewport, lang)
            assert await weigh(page, f"{site.url}/login") < MAX_PAGE_BYTES
            assert (await page.inner_text("h1")) == title
            await screenshot(page, f"login-{viewport}-{lang}")
            await page.fill("#username", username)
            await page.fill("#password", "not the password")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#login-error")
            await screenshot(page, f"login-error-{viewport}-{lang}")
            assert guard.outside == []
    page, _ = await open_page("phone", "en")
    await log_in(page, site, username)
    await page.wait_for_url(f"{site.url}/")
    # The user's own setting (zh-CN) wins over the browser's English...
    assert "您好" in await page.inner_text("h1")
    assert await weigh(page, f"{site.url}/") < MAX_PAGE_BYTES
    await screenshot(page, "home-phone-zh-CN")
    # ...and the switcher wins over both.
    await page.click("a[lang=en]")
    await page.wait_for_url(f"{site.url}/")
    assert "Hello" in await page.inner_text("h1")
    await screenshot(page, "home-phone-en")


async def test_five_failed_logins_lock_the_account(site: Site, open_page: OpenPage) -> None:
    """Five wrong passwords lock the account, the right one is refused until the backoff has
    passed, then it works."""
    username = await site.person(Role.OPERATOR)
    now = utc(2026, 12, 1, 9)
    site.move_clock(now)
    page, _ = await open_page("desktop", "en")
    for _ in range(5):
        await log_in(page, site, username, "not the password")
    assert "locked" in await page.inner_text("#login-error")
    await log_in(page, site, username)
    assert "Try again in 1 min" in await page.inner_text("#login-error")
    await screenshot(page, "login-locked-desktop-en")
    site.move_clock(now + timedelta(minutes=1, seconds=1))
    await log_in(page, site, username)
    await page.wait_for_url(f"{site.url}/")


async def test_forms_without_the_csrf_token_get_403(site: Site) -> None:
    """A POST without (or with a wrong) CSRF token is refused, for login and logout alike."""
    username = await site.person(Role.OPERATOR)
    async with httpx.AsyncClient(base_url=site.url) as http:
        form = await http.get("/login")
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        # The cookies are Secure, which httpx keeps off plain http; carry them as a browser
        # on localhost (a secure context) does.
        http.cookies.set("cf_csrf", form.cookies["cf_csrf"])
        data = {"username": username, "password": "correct horse battery"}
        assert (await http.post("/login", data=data)).status_code == 403
        assert (await http.post("/login", data=data | {"csrf": "forged"})).status_code == 403
        # Forged from another site: no cf_csrf cookie travels with it.
        async with httpx.AsyncClient(base_url=site.url) as other:
            assert (await other.post("/login", data=data | {"csrf": token})).status_code == 403
        logged = await http.post("/login", data=data | {"csrf": token})
        assert logged.status_code == 303 and logged.headers["location"] == "/"
        cookie = logged.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        http.cookies.set("cf_session", logged.cookies["cf_session"])
        assert (await http.get("/")).status_code == 200
        assert (await http.post("/logout", data={"csrf": token})).status_code == 403
        assert (await http.get("/")).status_code == 200  # still logged in


async def test_logout_ends_the_session(site: Site, open_page: OpenPage) -> None:
    """Logout returns to the login form; the old cookie opens nothing afterwards."""
    username = await site.person(Role.AUDITOR)
    page, _ = await open_page("desktop", "en")
    await log_in(page, site, username)
    await page.wait_for_url(f"{site.url}/")
    cookies = await page.context.cookies()
    await page.click("form[action='/logout'] button")
    await page.wait_for_url(f"{site.url}/login")
    session = next(c for c in cookies if c["name"] == "cf_session")
    async with httpx.AsyncClient(base_url=site.url) as http:
        http.cookies.set("cf_session", session["value"])
        answer = await http.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


async def test_next_is_kept_and_never_leaves_the_site(site: Site, open_page: OpenPage) -> None:
    """A page asked for before login opens after it; an outside ``next`` goes home instead."""
    username = await site.person(Role.ADMIN)
    page, _ = await open_page("desktop", "en")
    await page.goto(f"{site.url}/login?next=//evil.example/")
    await page.fill("#username", username)
    await page.fill("#password", "correct horse battery")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site.url}/")
