"""Searching what CollectFlow keeps for a person's data: a history's JSON with every payload
decoded (the codec's ciphertext opened, each payload's base64 data read as text)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any

from temporalio.client import WorkflowHistory


def _texts(value: Any) -> list[str]:
    """Every string in the JSON, and each payload's ``data`` decoded from base64."""
    if isinstance(value, dict):
        found = [s for v in value.values() for s in _texts(v)]
        data = value.get("data")
        if isinstance(data, str) and "metadata" in value:
            with contextlib.suppress(binascii.Error, ValueError):  # not base64: a plain string
                found.append(base64.b64decode(data, validate=True).decode("utf-8", "replace"))
        return found
    if isinstance(value, list):
        return [s for v in value for s in _texts(v)]
    return [value] if isinstance(value, str) else []


def history_text(history: WorkflowHistory) -> str:
    """One haystack: the history's JSON and every payload's decoded text."""
    raw = history.to_json()
    return "\n".join([raw, *_texts(json.loads(raw))])


def needles(*values: str) -> list[str]:
    """Each value as written and as JSON would escape it (``\\u8d75`` for 赵)."""
    out: list[str] = []
    for value in values:
        out += [value, json.dumps(value)[1:-1]]
        if value.startswith("+86"):
            out.append(value[3:])  # the national number
    return [n for n in dict.fromkeys(out) if n]


def found_in(haystack: str, values: list[str]) -> list[str]:
    return [v for v in values if v in haystack]
