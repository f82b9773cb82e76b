"""Browser fixtures: the app on a real port, Debian's Chromium through Playwright, people.

``site`` serves the API and its screens with uvicorn in the test's event loop (SQLite at the
head migration; no Temporal unless a test asks for ``live_site``). ``browser`` is Debian's
Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it); ``open_page`` gives a page whose
context aborts, and records, every request that is not for this machine — so a page that
reaches for a CDN fails its test instead of silently working on a machine with internet.
Screenshots go to ``.data/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from activities.db import Database, upgrade_database
from api.app import create_app
from bench.stack import SYSTEM_KEY, real_stack
from models.common import Role, case_id_for
from models.settings import PROJECT_ROOT, Settings
from models.tables import Case, FieldAgent
from models.users import UserCreate
from sandbox.testing import serve
from tests.api.conftest import strategies as api_strategies
from web import accounts
from web.pages import WebState

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / ".data" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
PASSWORD = "correct horse battery"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass
class Site:
    url: str
    settings: Settings
    database: Database
    web: WebState
    region: str = field(default_factory=lambda: f"r-{uuid.uuid4().hex[:6]}")

    async def person(self, role: Role, *, collector: bool = False, locale: str = "en") -> str:
        """A user of this role (a field collector with an agent record if asked); its username."""
        username = f"{role.value}-{uuid.uuid4().hex[:6]}"
        agent_id = None
        if collector:
            agent_id = f"A-{uuid.uuid4().hex[:6]}"
            async with self.database.session() as session:
                session.add(FieldAgent(id=agent_id, name="Field Agent", region=self.region))
                await session.commit()
        await accounts.add_user(
            self.database,
            UserCreate(
                username=username,
                display_name=f"Test {role.value.title()}",
                role=role,
                agent_id=agent_id,
                locale=locale,
                password=PASSWORD,
            ),
        )
        return username

    def move_clock(self, to: datetime) -> None:
        self.web.clock = lambda: to


async def _no_temporal(_: Settings) -> Client:
    raise ConnectionError("these screens' tests run without Temporal")


def web_settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "session_secret": f"test-session-secret-{uuid.uuid4().hex}",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        "data_dir": tmp_path,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]  # the fields' own validation applies


@pytest.fixture
async def site(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Site]:
    await asyncio.to_thread(upgrade_database, sqlite_url)
    database = Database(sqlite_url)
    settings = web_settings(tmp_path)
    app = create_app(settings, temporal_client_factory=_no_temporal, database=database)
    try:
        async with serve(app) as url:
            yield Site(url, settings, database, app.state.web)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240  # once per session, before any await
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Guard:
    """Requests the page tried outside this machine (each was aborted)."""

    outside: list[str] = field(default_factory=list)


OpenPage = Callable[..., Awaitable[tuple[Page, Guard]]]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    contexts: list[BrowserContext] = []

    async def opener(viewport: str = "desktop", locale: str = "en") -> tuple[Page, Guard]:
        context = await browser.new_context(
            viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]  # a ViewportSize dict
            locale=locale,
            extra_http_headers={"Accept-Language": locale},
        )
        contexts.append(context)
        guard = Guard()

        async def only_local(route: Route) -> None:
            host = urlsplit(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                await route.continue_()
            else:
                guard.outside.append(route.request.url)
                await route.abort("internetdisconnected")

        await context.route("**/*", only_local)
        return await context.new_page(), guard

    yield opener
    for context in contexts:
        await context.close()


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def log_in(page: Page, site: Site, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{site.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class LiveSite(Site):
    """A site with Temporal, the real activities (SQLite read model, the Twilio sandbox)."""

    system_key: str = ""

    async def open_case(self, borrower_zone: str, strategy: str = "slow") -> str:
        loan_id = f"L-{uuid.uuid4().hex[:10]}"
        event = {
            "loan_id": loan_id,
            "currency": "CNY",
            "amount_overdue": "1530.50",
            "outstanding_balance": "9800.00",
            "due_date": "2026-11-20",
            "strategy": strategy,
            "borrower": {
                "id": f"B-{uuid.uuid4().hex[:8]}",
                "name": "王芳",
                "phone": "+8613800138000",
                "timezone": borrower_zone,
                "locale": "zh-CN",
                "region": self.region,
                "address": "杭州市西湖区文三路 1 号",
                "consent": {"sms": True, "call": True},
            },
        }
        headers = {"Authorization": f"Bearer {self.system_key}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as http:
            answer = await http.post("/v1/overdue-events", json=event)
        assert answer.status_code == 202, answer.text
        await self._until_projected(case_id_for(loan_id))
        return loan_id

    async def _until_projected(self, case_id: str, seconds: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            async with self.database.session() as session:
                case = await session.get(Case, case_id)
                if case is not None and case.next_action_at is not None:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{case_id} never reached the read model")


@pytest.fixture
async def live_site(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[LiveSite]:
    client = dev_env.client

    async def factory(_: Settings) -> Client:
        return client

    task_queue = f"web-{uuid.uuid4().hex[:10]}"
    async with real_stack(client, tmp_path, task_queue) as stack:
        database = stack.activities.db
        app = create_app(
            stack.settings,
            temporal_client_factory=factory,
            database=database,
            strategies=api_strategies(),
        )
        async with serve(app) as url:
            yield LiveSite(url, stack.settings, database, app.state.web, system_key=SYSTEM_KEY)


async def twilio_post(site: LiveSite, path: str, query: str, form: dict[str, str]) -> None:
    """POST a webhook as Twilio would, signed with the stack's token for the public URL."""
    url = f"{site.settings.public_base_url.rstrip('/')}{path}?{query}"
    signature = RequestValidator(site.settings.twilio_auth_token).compute_signature(url, form)
    async with httpx.AsyncClient(base_url=site.url) as http:
        answer = await http.post(
            f"{path}?{query}", data=form, headers={"X-Twilio-Signature": signature}
        )
    assert answer.status_code in (200, 204), answer.text
