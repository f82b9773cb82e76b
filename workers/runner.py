"""The workflow runner every worker and replayer shares: the SDK's sandbox, made cheaper.

The sandbox asks the workflow instance for a payload's serialization context (and its external
store context) once per payload of every activation and completion. The SDK answers by
compiling and ``exec``-ing a two-line snippet under the sandbox importer each time, which was
45% of a lean replay's activation time (``bench/replay.py``: 12,120 calls for 60 histories).
Both answers are plain lookups on the workflow's info and pending commands, importing nothing,
so this runner asks the in-sandbox object directly. Everything else (module isolation, the
restrictions, ``activate``) is the SDK's own. ``tests/unit/test_runner.py`` checks that the
answers are the SDK's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

from workers import payload_visits
from workflows.sandbox import PASSTHROUGH_MODULES


class _DirectContextInstance(_Instance):
    """The sandboxed instance, answering context lookups without a compiled snippet."""

    def _in_sandbox(self) -> Any:
        return self.globals_and_locals["__temporal_in_sandbox"]

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        context = self._in_sandbox().get_serialization_context(command_info)
        return cast(SerializationContext | None, context)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._in_sandbox().get_external_store_context(command_info)


@dataclass(frozen=True)
class DirectContextRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose instances answer context lookups directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _DirectContextInstance(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with the pure policy modules passed through (``workflows.sandbox``); and
    the payload walks with no effect skipped for every worker and replayer of the process
    (``workers.payload_visits``)."""
    payload_visits.install()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return DirectContextRunner(restrictions=restrictions)
