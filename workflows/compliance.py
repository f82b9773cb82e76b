"""Moved to ``workflows/core/compliance.py`` (the pure case core); re-exported here so the
wave-1 workflow and its tests keep working until the shell switches to the core."""

from workflows.core.compliance import (
    ATTEMPTED,
    MAX_DEFERRAL_STEPS,
    ContactContext,
    Decision,
    Verdict,
    _blocking_reason,
    _earliest_allowed,
    _free_at,
    _window_opening,
    decide,
)

__all__ = [
    "ATTEMPTED",
    "MAX_DEFERRAL_STEPS",
    "ContactContext",
    "Decision",
    "Verdict",
    "_blocking_reason",
    "_earliest_allowed",
    "_free_at",
    "_window_opening",
    "decide",
]
