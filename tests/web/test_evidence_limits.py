"""Evidence uploads that are refused before anything is stored: too large, not a photo or a
recording, empty, no CSRF token, not a field collector — each a 4xx with its sentence."""

from __future__ import annotations

import httpx

from models.common import Role
from tests.web.conftest import OpenPage, Site, log_in
from web.evidence import MAX_BYTES


async def _session(site: Site, open_page: OpenPage, username: str) -> tuple[dict[str, str], str]:
    page, _ = await open_page("phone", "en")
    await log_in(page, site, username)
    await page.wait_for_url(f"{site.url}/")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    csrf = await page.get_attribute("form[action='/logout'] input[name=csrf]", "value")
    return cookies, csrf or ""


async def test_refused_uploads_say_why(site: Site, open_page: OpenPage) -> None:
    collector = await site.person(Role.OPERATOR, collector=True)
    cookies, csrf = await _session(site, open_page, collector)
    path = "/today/L-1/evidence"
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as http:

        async def send(data: bytes, token: str = csrf, json: bool = True) -> httpx.Response:
            headers = {"Accept": "application/json"} if json else {}
            files = {"file": ("f.bin", data, "image/jpeg")}  # the browser's claim is not trusted
            return await http.post(path, data={"csrf": token}, files=files, headers=headers)

        big = await send(b"\xff\xd8\xff" + bytes(MAX_BYTES))
        assert big.status_code == 413 and "larger than 8 MB" in big.json()["sentence"]
        pdf = await send(b"%PDF-1.7 " + bytes(100))
        assert pdf.status_code == 415 and "Only photos" in pdf.json()["sentence"]
        empty = await send(b"")
        assert empty.status_code == 422 and "Choose a photo" in empty.json()["sentence"]
        page_answer = await send(b"%PDF-1.7 ", json=False)  # a plain form post: the page again
        assert page_answer.status_code == 415 and "Only photos" in page_answer.text
        no_token = await send(b"\xff\xd8\xff" + bytes(10), token="forged")
        assert no_token.status_code == 403
        # A real photo for a case not on record: no borrower's key to seal it under.
        unknown = await send(b"\xff\xd8\xff" + bytes(10))
        assert unknown.status_code == 404 and "not on record" in unknown.json()["sentence"]
    assert not (site.settings.data_dir / "evidence").exists()  # nothing refused was kept
    operator = await site.person(Role.OPERATOR)  # no agent record: not a field collector
    cookies, csrf = await _session(site, open_page, operator)
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as http:
        assert (await http.get("/today")).status_code == 403
        files = {"file": ("a.jpg", b"\xff\xd8\xff" + bytes(10), "image/jpeg")}
        assert (await http.post(path, data={"csrf": csrf}, files=files)).status_code == 403
