"""Logging: personal data and secrets are masked; context and stdlib records reach the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from models.observability import configure_logging, mask_pii, scrub_text
from models.settings import Settings

PHONE = "+8613800138000"
NAME = "王芳"
NATIONAL_ID = "11010519491231002X"


@pytest.fixture(autouse=True)
def _restore_stdlib_logging() -> Iterator[None]:
    """configure_logging replaces the root handler; put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _captured(**kwargs: Any) -> dict[str, Any]:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars, mask_pii]) as logs:
        structlog.get_logger("t").info(kwargs.pop("event", "event"), **kwargs)
    assert len(logs) == 1
    return dict(logs[0])


def _configured(**overrides: Any) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(Settings(env="development", log_json=True, **overrides), stream=stream)
    return stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_phone_and_name_keys_are_masked() -> None:
    """Values under phone and name keys keep only their last digits or the initial."""
    entry = _captured(phone=PHONE, to="+14155550123", borrower_name=NAME, name="Alice Chen")
    assert entry["phone"] == "+*********8000"
    assert entry["to"] == "+*******0123"
    assert entry["borrower_name"] == "王*"
    assert entry["name"].startswith("A") and "Alice" not in entry["name"]


def test_numbers_and_ids_inside_the_event_are_masked() -> None:
    """E.164, bare digit runs and national ids are masked in the event string itself."""
    entry = _captured(event=f"sms to {PHONE}, alt 13912345678, id {NATIONAL_ID}, at 0571-8888")
    event = entry["event"]
    assert PHONE not in event and "13912345678" not in event and NATIONAL_ID not in event
    assert "+*********8000" in event and "*******5678" in event and "1002X" not in event
    assert event.endswith("**************002X, at 0571-8888")


def test_url_encoded_numbers_and_identifiers() -> None:
    """A %2B-encoded number is masked; sids, decimals and identifier keys are left readable."""
    assert "8613800138000" not in scrub_text("GET /sandbox/outbox?to=%2B8613800138000")
    kept = "SM0123456789abcdef0123456789abcdef paid 12345678.50 on 2026-11-30"
    assert scrub_text(kept) == kept
    entry = _captured(loan_id="20261130001", workflow_run_id="12345678-aaaa", note_count=3)
    assert entry["loan_id"] == "20261130001" and entry["workflow_run_id"] == "12345678-aaaa"


def test_secrets_are_replaced() -> None:
    """Keys naming a token, key, secret or authorization are replaced by ***."""
    entry = _captured(
        auth_token="s3cr3t",
        api_key="dev-admin",
        Authorization="Bearer dev-admin",
        headers={"x-api-key": "k", "accept": "json"},
        idempotency_key="case-L-1/reminder-0",
    )
    assert entry["auth_token"] == entry["api_key"] == entry["Authorization"] == "***"
    assert entry["headers"] == {"x-api-key": "***", "accept": "json"}
    assert entry["idempotency_key"] == "case-L-1/reminder-0"
    # A bare ``key`` is masked unless it is a contact's idempotency key.
    assert _captured(key="sk_live_123")["key"] == "***"
    assert _captured(key="case-L-1/reminder-0")["key"] == "case-L-1/reminder-0"


def test_values_masked_upstream_are_kept() -> None:
    """A number an activity already masked is not masked again into something less useful."""
    assert _captured(to="+86*******8000")["to"] == "+86*******8000"
    assert _captured(to="+86*******80001234")["to"] == "+*******234"


def test_nested_values_and_free_text() -> None:
    """Dicts and lists are masked by their keys; SMS bodies and addresses keep only a length."""
    borrower = {"name": NAME, "phone": PHONE, "address": "杭州市西湖区文三路 1 号", "region": "hz"}
    entry = _captured(borrower=borrower, numbers=[PHONE], body=f"【汇流金融】{NAME}您好")
    assert entry["borrower"] == {
        "name": "王*",
        "phone": "+*********8000",
        "address": "<13 chars>",
        "region": "hz",
    }
    assert entry["numbers"] == ["+*********8000"]
    assert entry["body"] == "<10 chars>"
    assert borrower["phone"] == PHONE  # the caller's object is not changed


def test_bound_context_is_merged() -> None:
    """case_id, loan_id, workflow_run_id, actor and stage bound by callers reach every line."""
    structlog.contextvars.bind_contextvars(
        case_id="case-L-1", loan_id="L-1", workflow_run_id="r-1", actor="op-1", stage="visit"
    )
    entry = _captured(event="visit scheduled")
    assert {k: entry[k] for k in ("case_id", "loan_id", "workflow_run_id", "actor", "stage")} == {
        "case_id": "case-L-1",
        "loan_id": "L-1",
        "workflow_run_id": "r-1",
        "actor": "op-1",
        "stage": "visit",
    }


def test_configured_json_output_masks_structlog_and_stdlib() -> None:
    """Through configure_logging, structlog and stdlib records both come out as masked JSON."""
    stream = _configured()
    structlog.contextvars.bind_contextvars(case_id="case-L-9")
    structlog.get_logger("cf").info("sent", to=PHONE, name=NAME)
    logging.getLogger("uvicorn.access").info('%s - "%s"', "127.0.0.1", f"GET /x?to={PHONE}")
    try:
        raise RuntimeError(f"provider refused {PHONE}")
    except RuntimeError:
        logging.getLogger("temporalio.activity").exception("activity failed")
    text = stream.getvalue()
    assert PHONE not in text and NAME not in text
    native, foreign, failed = _lines(stream)
    assert native["event"] == "sent" and native["case_id"] == "case-L-9"
    assert native["level"] == "info" and native["logger"] == "cf" and "timestamp" in native
    assert foreign["logger"] == "uvicorn.access" and "+*********8000" in foreign["event"]
    assert foreign["case_id"] == "case-L-9"
    assert failed["level"] == "error" and "RuntimeError" in failed["exception"]


def test_temporal_extra_is_lifted_and_levels_filtered() -> None:
    """The SDK's workflow info becomes case_id and workflow_run_id; lower levels are dropped."""
    stream = _configured(log_level="WARNING")
    info = {"workflow_id": "case-L-2", "run_id": "run-2", "workflow_type": "CollectionCase"}
    logging.getLogger("temporalio.workflow").warning("slow", extra={"temporal_workflow": info})
    logging.getLogger("temporalio.workflow").info("dropped")
    (line,) = _lines(stream)
    assert line["case_id"] == "case-L-2" and line["workflow_run_id"] == "run-2"
    assert line["workflow_type"] == "CollectionCase"


def test_console_renderer_when_json_is_off() -> None:
    """log_json=false renders human-readable lines, still masked."""
    stream = io.StringIO()
    configure_logging(Settings(env="development", log_json=False), stream=stream)
    structlog.get_logger("cf").info("sent", phone=PHONE)
    text = stream.getvalue()
    assert "sent" in text and "+*********8000" in text and PHONE not in text
    assert not text.lstrip().startswith("{")
