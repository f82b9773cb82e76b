"""``/docs`` and ``/redoc`` render the API's operations in Chromium with no outside network."""

from __future__ import annotations

import httpx

from tests.web.conftest import OpenPage, Site, screenshot

CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com", "fastapi.tiangolo.com")


async def _operations(site: Site) -> set[tuple[str, str]]:
    async with httpx.AsyncClient(base_url=site.url) as http:
        doc = (await http.get("/openapi.json")).json()
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


async def test_swagger_ui_renders_every_operation_offline(site: Site, open_page: OpenPage) -> None:
    """Swagger UI loads from this server only and lists each operation of the OpenAPI doc."""
    expected = await _operations(site)
    page, guard = await open_page("desktop")
    await page.goto(f"{site.url}/docs")
    await page.wait_for_selector(".opblock", timeout=15_000)
    shown = set()
    for block in await page.query_selector_all(".opblock-summary"):
        method = await block.query_selector(".opblock-summary-method")
        path = await block.get_attribute("data-path") or ""
        if method is not None and not path:
            link = await block.query_selector(".opblock-summary-path")
            path = (await link.get_attribute("data-path") or "") if link else ""
        if method is not None:
            shown.add(((await method.inner_text()).strip(), path))
    await screenshot(page, "docs-desktop-en", full_page=False)
    assert guard.outside == []
    assert shown == expected
    assert len(expected) >= 21


async def test_redoc_renders_offline(site: Site, open_page: OpenPage) -> None:
    """ReDoc loads its bundle from this server, without Google Fonts, and shows the operations."""
    page, guard = await open_page("desktop")
    await page.goto(f"{site.url}/redoc")
    heading = page.locator("h2", has_text="Record a payment (idempotent by payment_ref)")
    await heading.wait_for(timeout=20_000)
    await screenshot(page, "redoc-desktop-en", full_page=False)
    assert guard.outside == []


async def test_docs_pages_name_no_cdn(site: Site) -> None:
    """The HTML of both pages points only at this server's /static files."""
    async with httpx.AsyncClient(base_url=site.url) as http:
        for path in ("/docs", "/redoc"):
            html = (await http.get(path)).text
            assert "/static/vendor/" in html
            assert path == "/redoc" or '"validatorUrl": null' in html
            assert not [host for host in CDN_HOSTS if host in html], path
        bundle = await http.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 1_000_000
