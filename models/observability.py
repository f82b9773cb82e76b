"""Logging for every process: structlog, JSON (or console on a TTY), personal data masked.

``configure_logging(settings)`` routes both structlog and the standard library (uvicorn, the
Temporal SDK, httpx, alembic) through one chain that merges the context variables callers bind
(``case_id``, ``loan_id``, ``workflow_run_id``, ``actor``, ``stage``) and ends in
:func:`mask_pii`, so no phone number, borrower name, national id or secret reaches a log line
whichever library wrote it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from models.settings import Settings

MASK = "***"

# Key names (compared lower-cased) whose values are personal data of a known shape.
PHONE_KEYS = frozenset(
    {
        "phone",
        "borrower_phone",
        "phone_number",
        "mobile",
        "to",
        "from",
        "from_",
        "caller",
        "called",
        "sender",
        "recipient",
    }
)
NAME_KEYS = frozenset({"name", "borrower_name", "full_name", "customer_name", "contact_name"})
NATIONAL_ID_KEYS = frozenset({"national_id", "id_number", "id_card", "id_no", "resident_id"})
# Free text that quotes the borrower (an SMS body says "王芳您好…"): only its length is logged.
TEXT_KEYS = frozenset({"body", "address", "twiml", "notes", "note"})
# Identifiers whose digits are not phone numbers: never scrubbed (a numeric loan id stays usable).
ID_KEYS = frozenset(
    {
        "case_id",
        "loan_id",
        "workflow_id",
        "workflow_run_id",
        "run_id",
        "payment_ref",
        "sid",
        "message_sid",
        "call_sid",
        "provider_sid",
        "idempotency_key",
        "request_id",
        "trace_id",
        "span_id",
        "timestamp",
    }
)
SECRET_PARTS = frozenset(
    {"token", "key", "apikey", "secret", "password", "passwd", "authorization", "credentials"}
)
NOT_SECRET = frozenset({"idempotency_key"})
# A bare ``key`` holding a contact's idempotency key (``{workflow_id}/{step}``) is no secret.
_IDEMPOTENCY_KEY = re.compile(r"^case-[A-Za-z0-9._-]+/")

# An 18-character PRC resident id: 17 digits and a check digit or X.
_NATIONAL_ID = re.compile(r"(?<![\w+%])\d{17}[\dXx](?!\w)")
# E.164 (also URL-encoded, %2B) or any bare run of seven or more digits that is not part of a
# word (a Twilio sid, a hex id) or of a decimal amount.
_DIGIT_RUN = re.compile(r"(?<![\w.+%])(\+|%2B)?(\d{7,})(?!\w|\.\d)")


def _keep(digits: int) -> int:
    """How many trailing digits stay readable: enough to tell two numbers apart, no more."""
    if digits >= 11:
        return 4
    return 3 if digits >= 9 else 2


def mask_phone(value: str) -> str:
    """``+8613800138000`` → ``+*********8000``; anything that is not a number → ``***``.

    A value masked upstream (``+86*******8000``: stars and at most six digits) is kept as is.
    """
    stripped = value.strip()
    prefix = "+" if stripped.startswith("+") else ""
    digits = re.sub(r"\D", "", stripped)
    if "*" in stripped and len(digits) <= 6:
        return stripped
    if len(digits) < 5:
        return MASK
    keep = _keep(len(digits))
    return prefix + "*" * (len(digits) - keep) + digits[-keep:]


def mask_name(value: str) -> str:
    """``王芳`` → ``王*``; ``Alice Chen`` → ``A***``: the initial only."""
    stripped = value.strip()
    if not stripped:
        return stripped
    return stripped[0] + "*" * min(max(len(stripped) - 1, 1), 3)


def mask_national_id(value: str) -> str:
    stripped = value.strip()
    return "*" * max(len(stripped) - 4, 0) + stripped[-4:] if len(stripped) > 4 else MASK


def scrub_text(text: str) -> str:
    """Mask national ids and phone numbers (or any long digit run) inside free text."""
    text = _NATIONAL_ID.sub(lambda m: mask_national_id(m.group(0)), text)
    return _DIGIT_RUN.sub(_mask_run, text)


def _mask_run(match: re.Match[str]) -> str:
    prefix, digits = match.group(1) or "", match.group(2)
    keep = _keep(len(digits))
    return prefix + "*" * (len(digits) - keep) + digits[-keep:]


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in NOT_SECRET:
        return False
    parts = [p for p in re.split(r"[^a-z0-9]+", lowered) if p]
    return any(p in SECRET_PARTS or p.endswith(("token", "apikey", "secret")) for p in parts)


def _mask_value(key: str | None, value: Any) -> Any:
    lowered = key.lower() if key is not None else None
    if lowered is not None and is_secret_key(lowered):
        if lowered == "key" and isinstance(value, str) and _IDEMPOTENCY_KEY.match(value):
            return value
        return MASK
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(key, item) for item in value]
    if lowered in PHONE_KEYS and isinstance(value, str | int):
        return mask_phone(str(value))
    if not isinstance(value, str):
        return value
    if lowered in NAME_KEYS:
        return mask_name(value)
    if lowered in NATIONAL_ID_KEYS:
        return mask_national_id(value)
    if lowered in TEXT_KEYS:
        return f"<{len(value)} chars>"
    if lowered in ID_KEYS:
        return value
    return scrub_text(value)


def mask_pii(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The masking processor: phones, names, national ids and secrets, in values and events.

    By key: phone keys (``phone``, ``to``, ``from``, …) keep their last digits; name keys
    (``name``, ``borrower_name``, …) keep the initial; secrets (any key with ``token``, ``key``,
    ``secret``, ``password`` or ``authorization`` in its name) become ``***``; free text
    (``body``, ``address``, ``notes``) is reduced to its length. In every other string, the
    event included, national ids, E.164 numbers and bare runs of seven or more digits are
    masked. Nested dicts and lists are masked the same way; the caller's objects are not changed.
    """
    return {k: (v if k.startswith("_") else _mask_value(k, v)) for k, v in event_dict.items()}


def add_temporal_context(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Lift the Temporal SDK's ``extra`` (workflow and activity info) into flat fields."""
    for key in ("temporal_workflow", "temporal_activity"):
        info = event_dict.pop(key, None)
        if not isinstance(info, Mapping):
            continue
        run_id = info.get("workflow_run_id") or info.get("run_id")
        workflow_id = info.get("workflow_id")
        if run_id:
            event_dict.setdefault("workflow_run_id", run_id)
        if isinstance(workflow_id, str) and workflow_id.startswith("case-"):
            event_dict.setdefault("case_id", workflow_id)
        for name in ("workflow_type", "activity_type", "attempt"):
            if name in info:
                event_dict.setdefault(name, info[name])
    return event_dict


def shared_processors() -> list[Processor]:
    """Context and metadata every line gets, whichever library logged it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]


def wants_json(settings: Settings, stream: TextIO) -> bool:
    if settings.log_json is not None:
        return settings.log_json
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


# Libraries that are chatty at INFO with nothing an operator needs.
TEMPORAL_EXTRAS = ("temporal_workflow", "temporal_activity")
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "aiosqlite",
    "asyncio",
    "hpack",
    "twilio",  # logs every request header at INFO
    "alembic.runtime.plugins",
)
# Loggers that configure their own handlers (uvicorn's default config): send them to ours.
ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library once per process (idempotent).

    JSON lines unless ``settings.log_json`` is false, or unset and ``stream`` (stderr by
    default) is a terminal, where the console renderer is easier to read.
    """
    stream = stream if stream is not None else sys.stderr
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if wants_json(settings, stream)
        else structlog.dev.ConsoleRenderer(colors=getattr(stream, "isatty", lambda: False)())
    )
    shared = shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.ExtraAdder(allow=TEMPORAL_EXTRAS),
            add_temporal_context,
            *shared,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_pii,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
        adopted.setLevel(logging.NOTSET)
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


__all__ = ["configure_logging", "mask_pii", "scrub_text"]
