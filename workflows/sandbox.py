"""The workflow sandbox configuration every worker and replayer must share.

The pure policy modules are passed through rather than re-imported per workflow run: they are
deterministic, and ``localtime`` needs the real ``zoneinfo`` (inside the sandbox ``zoneinfo``
is a restricted proxy and ``astimezone`` fails; see FIELD-NOTES). Passing ``models`` through
also keeps pydantic and phonenumbers from being re-imported on every workflow task. The runner
that applies it is ``workers.runner.workflow_runner``.
"""

from __future__ import annotations

PASSTHROUGH_MODULES = (
    "models",
    "workflows.localtime",
    "workflows.compliance",
    "workflows.installments",
    "workflows.core",
    "phonenumbers",
    "pydantic",
    "pydantic_core",
)
