"""The real CollectFlow worker for benchmarks: SQLite, the Twilio sandbox, real activities."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client

from activities.case_activities import CaseActivities
from activities.db import upgrade_database
from models import activities as act
from models.settings import Settings, hash_api_key
from sandbox.app import create_sandbox_app
from sandbox.config import quiet_config
from sandbox.testing import serve
from workers.codec import new_key_text
from workers.temporal import activity_name, build_workers

SYSTEM_KEY = "bench-system-key-0123456789abcdef"
TWILIO_TOKEN = "bench-twilio-token-0123456789"


@dataclass
class Stack:
    settings: Settings
    activities: CaseActivities
    synced: set[str]  # case ids whose read model has been written at least once


def bench_settings(db_url: str, sandbox_url: str, task_queue: str) -> Settings:
    """A deployment's settings for the bench's stack: every key the production guard asks for."""
    return Settings(
        env="test",
        database_url=db_url,
        twilio_base_url=sandbox_url,
        twilio_auth_token=TWILIO_TOKEN,
        session_secret=secrets.token_urlsafe(32),  # the API's screens refuse a placeholder
        messaging_rate_per_second=None,
        api_rate_per_second=None,  # measure the path, not the per-key limiter in front of it
        task_queue=task_queue,
        messaging_task_queue=f"{task_queue}-messaging",
        api_keys={hash_api_key(SYSTEM_KEY): {"id": "bench-system", "role": "system"}},
        payload_keys={"bench-1": new_key_text()},
        # Outside pytest no fixture sets these, and the production guard refuses a stack
        # without them (the bench seals borrowers' details as a deployment does).
        vault_keys={"bench-kek-1": new_key_text()},
        phone_hmac_key=secrets.token_urlsafe(32),
    )


@asynccontextmanager
async def real_stack(client: Client, directory: Path, task_queue: str) -> AsyncIterator[Stack]:
    db_url = f"sqlite+aiosqlite:///{directory / 'app.db'}"
    await asyncio.to_thread(upgrade_database, db_url)
    sandbox = quiet_config(Settings(env="development").twilio_account_sid, TWILIO_TOKEN)
    async with serve(create_sandbox_app(sandbox)) as sandbox_url:
        settings = bench_settings(db_url, sandbox_url, task_queue)
        real = await CaseActivities.from_settings(settings)
        stack = Stack(settings=settings, activities=real, synced=set())

        @activity.defn(name=act.SYNC_CASE)
        async def sync_case(inp: act.CaseProjection) -> act.SyncResult:
            result = await real.sync_case(inp)
            stack.synced.add(inp.case_id)
            return result

        activities: list[Callable[..., Any]] = [
            a for a in real.all() if activity_name(a) != act.SYNC_CASE
        ]
        activities.append(sync_case)
        workers = build_workers(
            client,
            task_queue=task_queue,
            messaging_task_queue=settings.messaging_task_queue,
            activities=activities,
            messaging_rate_per_second=None,
        )
        try:
            async with workers[0], workers[1]:
                yield stack
        finally:
            await real.aclose()


async def wait_synced(stack: Stack, count: int, seconds: float) -> None:
    """Until ``count`` cases have run their first workflow task and written their read model."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while len(stack.synced) < count:
        if loop.time() > deadline:
            raise TimeoutError(f"only {len(stack.synced)} of {count} cases synced in {seconds} s")
        await asyncio.sleep(0.05)  # the count grows in an activity
