"""The cheaper sandbox runner gives every payload the context the SDK's own runner gives it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workers.runner import DirectContextRunner, workflow_runner
from workflows.case import CollectionCase
from workflows.sandbox import PASSTHROUGH_MODULES

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


class RecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through unchanged and notes every context it is given."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def with_context(self, context: SerializationContext) -> RecordingCodec:
        self.seen.append(repr(context))
        return self

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def contexts_seen(runner: SandboxedWorkflowRunner, history: WorkflowHistory) -> list[str]:
    seen: list[str] = []
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=RecordingCodec(seen))
    replayer = Replayer(
        workflows=[CollectionCase], data_converter=converter, workflow_runner=runner
    )
    await replayer.replay_workflow(history)
    return seen


@pytest.mark.parametrize("name", ["scenario2-lean.json", "scenario3.json"])
async def test_every_payload_gets_the_sdk_runners_context(name: str) -> None:
    history = WorkflowHistory.from_json("case", (HISTORIES / name).read_text("utf-8"))
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    sdk = await contexts_seen(SandboxedWorkflowRunner(restrictions=restrictions), history)
    ours = await contexts_seen(workflow_runner(), history)
    assert isinstance(workflow_runner(), DirectContextRunner)
    assert len(sdk) > 50  # every activation and completion asks
    assert any("ActivitySerializationContext" in seen for seen in sdk)  # queued activities
    assert ours == sdk
