"""The borrower's page without Temporal: rate limits per address and per token, and a page
(never a 500) when the case cannot be read."""

from __future__ import annotations

import secrets

import httpx

from activities import links
from tests.web.conftest import Site


async def test_guessing_is_rate_limited_per_address(site: Site) -> None:
    """An address that tries token after token is answered 429 with Retry-After, on the same
    page that reveals nothing."""
    statuses = []
    async with httpx.AsyncClient(base_url=site.url) as http:
        for _ in range(80):
            answer = await http.get(f"/b/{secrets.token_urlsafe(16)[:22]}")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) >= 1
                assert "<main" in answer.text and "CNY" not in answer.text
                break
    assert statuses[0] == 404 and statuses[-1] == 429


async def test_one_token_is_rate_limited(site: Site) -> None:
    """Many requests for one token are refused before the address's own limit is reached."""
    token = secrets.token_urlsafe(16)[:22]
    async with httpx.AsyncClient(base_url=site.url) as http:
        statuses = [(await http.get(f"/b/{token}")).status_code for _ in range(40)]
    assert 429 in statuses and statuses.index(429) <= 31


async def test_a_live_link_while_temporal_is_down_is_a_calm_503(site: Site) -> None:
    """A valid link whose case cannot be read answers 'try again', not a 500; nothing shown."""
    token = await links.mint(
        site.database,
        site.settings.session_secret,
        case_id="case-L-down",
        loan_id="L-down",
        contact_key="case-L-down/reminder-0",
    )
    english = {"Accept-Language": "en"}
    async with httpx.AsyncClient(base_url=site.url, headers=english) as http:
        answer = await http.get(f"/b/{token}")
        posted = await http.post(f"/b/{token}/confirm", data={"code": "123456"})
    assert answer.status_code == 503 and "try again" in answer.text
    assert answer.headers["Retry-After"] == "5"
    assert posted.status_code == 503
