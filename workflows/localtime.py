"""Moved to ``workflows/core/localtime.py`` (the pure case core); re-exported here so the
wave-1 workflow and its tests keep working until the shell switches to the core."""

from workflows.core.localtime import (
    describe,
    in_window,
    local_date,
    local_midnight,
    local_to_utc,
    next_window_open,
    to_local,
    zone,
)

__all__ = [
    "describe",
    "in_window",
    "local_date",
    "local_midnight",
    "local_to_utc",
    "next_window_open",
    "to_local",
    "zone",
]
