"""The auditor's screens on a real case: the whole history, the signed export as a zip, and
verifying it — intact, then with one byte of its timeline changed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from models.common import Actor, Role
from tests import factories
from tests.api.conftest import signing_key
from tests.web.conftest import LiveSite, OpenPage, log_in, screenshot
from tests.web.test_login import MAX_PAGE_BYTES, weigh
from web import casefile


def _tampered(data: bytes) -> bytes:
    """The same zip with the timeline's first "note" changed to "nope"."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            body = source.read(member)
            if member.filename == "timeline.json":
                body = body.replace(b"asked for a call", b"asked for a cash", 1)
            target.writestr(member, body)
    return out.getvalue()


async def _verify(page_url: str, cookies: dict[str, str], csrf: str, data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=page_url, cookies=cookies) as http:
        files = {"file": ("export.zip", data, "application/zip")}
        return await http.post("/audit/verify", data={"csrf": csrf}, files=files)


async def test_auditor_reads_exports_and_verifies(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage, tmp_path: Path
) -> None:
    """Search by loan id opens the history (who did what, no write form); the export zip
    verifies OK with signature and recorded head checked; a changed timeline FAILS, named."""
    live_site.settings.export_signing_key = signing_key(tmp_path)
    loan_id = await live_site.open_case(factories.open_window_zone())
    operator = Actor(id="op-audited", role=Role.OPERATOR)
    await casefile.add_note(dev_env.client, loan_id, operator, "asked for a call")
    auditor = await live_site.person(Role.AUDITOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, live_site, auditor)
    await page.wait_for_url(f"{live_site.url}/")
    await page.goto(f"{live_site.url}/audit?q={loan_id}")
    await page.wait_for_url(f"{live_site.url}/audit/{loan_id}")
    history = await page.inner_text("#history")
    assert "asked for a call" in history and "op-audited (operator)" in history
    assert await page.query_selector_all("main form") == []
    assert await weigh(page, f"{live_site.url}/audit/{loan_id}") < MAX_PAGE_BYTES
    await screenshot(page, "audit-case-desktop-en")
    answer = await page.request.get(f"{live_site.url}/audit/{loan_id}/export.zip")
    assert answer.status == 200 and answer.headers["content-type"] == "application/zip"
    export = await answer.body()
    assert "manifest.sig" in zipfile.ZipFile(io.BytesIO(export)).namelist()
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    csrf = await page.get_attribute("form[action='/logout'] input[name=csrf]", "value") or ""
    intact = await _verify(live_site.url, cookies, csrf, export)
    assert intact.status_code == 200, intact.text
    assert "OK: case-" in intact.text and "Signature checked" in intact.text
    assert "Timeline head checked" in intact.text
    changed = await _verify(live_site.url, cookies, csrf, _tampered(export))
    assert changed.status_code == 422
    assert "FAILED" in changed.text and "timeline.json" in changed.text
    not_zip = await _verify(live_site.url, cookies, csrf, b"plain text")
    assert not_zip.status_code == 422 and "not a zip" in not_zip.text
    await page.goto(f"{live_site.url}/audit")
    await page.set_input_files("#file", {"name": "e.zip", "mimeType": "application/zip",
                                         "buffer": export})  # fmt: skip
    await page.click("#verify button[type=submit]")
    await page.wait_for_selector("#verdict")
    await screenshot(page, "audit-verified-desktop-en")
    assert guard.outside == []
    async with httpx.AsyncClient(base_url=live_site.url, cookies=cookies) as http:
        assert (await http.get("/escalations")).status_code == 403
        assert (await http.get("/today")).status_code == 403
