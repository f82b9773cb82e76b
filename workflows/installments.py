"""Moved to ``workflows/core/installments.py`` (the pure case core); re-exported here so the
wave-1 workflow and its tests keep working until the shell switches to the core."""

from workflows.core.installments import (
    CENT,
    plan_problem,
    split_installments,
)

__all__ = [
    "CENT",
    "plan_problem",
    "split_installments",
]
