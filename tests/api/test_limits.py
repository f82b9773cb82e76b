"""Limits (issue 16, item 5): bounded metric labels and per-key rate limits.

The API runs in-process without a Temporal server: every request here is decided before the
API would reach one (routing, authentication, the rate limit), and those that get through answer
503 "Temporal is unreachable" — which is how the tests tell "let through" from "limited".
"""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from models.settings import Settings, hash_api_key
from tests.conftest import TEST_PAYLOAD_KEYS

KEYS = {"operator": "limits-operator-key-0123456789", "auditor": "limits-auditor-key-0123456789"}


async def _no_temporal(_: Settings) -> Client:
    raise ConnectionRefusedError("no Temporal in these tests")


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    http: httpx.AsyncClient
    state: AppState
    clock: Clock

    async def get(self, role: str, path: str = "/v1/cases") -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {KEYS[role]}"})


def _settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "api_keys": {hash_api_key(k): {"id": f"{r}-1", "role": r} for r, k in KEYS.items()},
        "twilio_auth_token": "limits-twilio-token-0123456789",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        "api_rate_per_second": 1.0,
        "api_rate_burst": 3,
        "payload_keys": TEST_PAYLOAD_KEYS,
        "session_secret": "limits-session-secret-0123456789abcdef",
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]  # test values, typed above


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    app = create_app(_settings(tmp_path), temporal_client_factory=_no_temporal)
    state: AppState = app.state.collectflow
    clock = Clock()
    assert state.limiter is not None
    state.limiter.clock = clock
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        yield Harness(http, state, clock)
    assert state.database is not None
    await state.database.dispose()


async def test_a_key_over_its_rate_gets_429_with_retry_after(harness: Harness) -> None:
    """Burst 3 at 1 a second: the 4th request at once is 429 with Retry-After and a sentence;
    another key is not held back; a second later one more gets through."""
    first = [await harness.get("operator") for _ in range(3)]
    assert [r.status_code for r in first] == [503] * 3  # through the limit, to "no Temporal"
    limited = await harness.get("operator")
    assert limited.status_code == 429, limited.text
    assert limited.headers["Retry-After"] == "1"
    assert "over its rate limit (1 requests a second, bursts of 3)" in limited.json()["detail"]
    assert (await harness.get("auditor")).status_code == 503  # its own bucket
    harness.clock.now += 1.0
    assert (await harness.get("operator")).status_code == 503
    assert (await harness.get("operator")).status_code == 429


async def test_retry_after_says_how_long_until_a_token_is_back(tmp_path: Path) -> None:
    """At 0.25 a second, an empty bucket refills in 4 s: Retry-After is 4, then less."""
    app = create_app(
        _settings(tmp_path, api_rate_per_second=0.25, api_rate_burst=1),
        temporal_client_factory=_no_temporal,
    )
    state: AppState = app.state.collectflow
    assert state.limiter is not None
    clock = Clock()
    state.limiter.clock = clock
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        harness = Harness(http, state, clock)
        assert (await harness.get("auditor")).status_code == 503
        assert (await harness.get("auditor")).headers["Retry-After"] == "4"
        clock.now += 2.5
        assert (await harness.get("auditor")).headers["Retry-After"] == "2"
    assert state.database is not None
    await state.database.dispose()


async def test_unknown_keys_are_not_given_buckets(harness: Harness) -> None:
    """A wrong key is 401 before any bucket: guessing keys cannot fill the limiter's table."""
    assert harness.state.limiter is not None
    for i in range(50):
        wrong = await harness.http.get("/v1/cases", headers={"Authorization": f"Bearer x{i}"})
        assert wrong.status_code == 401
    assert harness.state.limiter._buckets == {}


async def test_no_limit_when_the_rate_is_lifted(tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path, api_rate_per_second=None), temporal_client_factory=_no_temporal
    )
    assert app.state.collectflow.limiter is None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        headers = {"Authorization": f"Bearer {KEYS['operator']}"}
        statuses = {(await http.get("/v1/cases", headers=headers)).status_code for _ in range(20)}
    assert statuses == {503}
    await app.state.collectflow.database.dispose()


def _invented_method(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))


async def test_ten_thousand_invented_methods_leave_metrics_the_same_size(harness: Harness) -> None:
    """Issue 16: 200 invented methods added 40 KB of series. Now 10,000 requests with invented
    methods, on real and unmatched paths, leave /metrics within 1 KB of its size before."""
    rng = random.Random(16)
    paths = ["/v1/cases", "/healthz", "/v1/cases/L-1/notes"]

    async def invent(count: int) -> None:
        for _ in range(count):
            method = _invented_method(rng)
            path = rng.choice([*paths, f"/nowhere/{rng.randrange(10**9)}"])
            response = await harness.http.request(method, path)
            assert 400 <= response.status_code < 500, (method, path, response.status_code)

    await invent(50)  # the collapsed series exist from here on
    before = len((await harness.http.get("/metrics")).content)
    await invent(10_000)
    after = len((await harness.http.get("/metrics")).content)
    assert abs(after - before) <= 1024, (before, after)
    text = (await harness.http.get("/metrics")).text
    assert 'method="other"' in text and 'route="unmatched"' in text
