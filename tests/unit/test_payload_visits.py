"""Skipping the payload walks with no effect changes nothing a codec or a workflow sees.

A committed history is replayed with a codec that records every payload it decodes or encodes
and every context it is given: once through the SDK's own walks, once through
``workers.payload_visits``. The records are the same. Without a codec, the activation and the
completion come out of our functions exactly as out of the SDK's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker import Replayer

from workers import payload_visits
from workers.runner import workflow_runner
from workflows.case import CollectionCase

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


class RecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through unchanged; notes each payload it is given, with its context.

    (The SDK's walks with no effect also ask for contexts they never use: only the contexts a
    payload is coded under are compared.)"""

    def __init__(self, seen: list[str], context: str = "none") -> None:
        self.seen = seen
        self.context = context

    def with_context(self, context: SerializationContext) -> RecordingCodec:
        return RecordingCodec(self.seen, repr(context))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(f"encode {p.data.decode()} under {self.context}" for p in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(f"decode {p.data.decode()} under {self.context}" for p in payloads)
        return list(payloads)


def use_sdk_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge_worker, "decode_activation", payload_visits.SDK_DECODE)
    monkeypatch.setattr(bridge_worker, "encode_completion", payload_visits.SDK_ENCODE)


async def codec_record(history: WorkflowHistory) -> list[str]:
    seen: list[str] = []
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=RecordingCodec(seen))
    runner = workflow_runner()  # installs ours; the SDK's are put back after it when asked
    replayer = Replayer(
        workflows=[CollectionCase], data_converter=converter, workflow_runner=runner
    )
    await replayer.replay_workflow(history)
    return seen


@pytest.mark.parametrize("name", ["scenario2-lean.json", "scenario3.json"])
async def test_a_codec_sees_what_it_sees_under_the_sdks_walks(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = WorkflowHistory.from_json("case", (HISTORIES / name).read_text("utf-8"))
    ours = await codec_record(history)
    assert bridge_worker.decode_activation is payload_visits.decode_activation
    with monkeypatch.context() as patch:
        patch.setattr(payload_visits, "install", lambda: None)
        use_sdk_walks(patch)
        sdk = await codec_record(history)
    assert sum(seen.startswith("decode ") for seen in sdk) > 20
    assert sum(seen.startswith("encode ") for seen in sdk) > 20
    assert any("ActivitySerializationContext" in seen for seen in sdk)
    assert ours == sdk


def _activation() -> WorkflowActivation:
    activation = WorkflowActivation(run_id="r")
    start = activation.jobs.add().initialize_workflow
    start.workflow_type = "CollectionCase"
    start.arguments.add(metadata={"encoding": b"json/plain"}, data=b'{"case_id": "c"}')
    activation.jobs.add().resolve_activity.result.completed.result.data = b'"sent"'
    return activation


def _completion() -> WorkflowActivationCompletion:
    completion = WorkflowActivationCompletion(run_id="r")
    command = completion.successful.commands.add().schedule_local_activity
    command.seq = 1
    command.arguments.add(metadata={"encoding": b"json/plain"}, data=b'{"to": "b-1"}')
    return completion


async def test_without_a_codec_the_protos_come_out_as_from_the_sdk() -> None:
    for ours_fn, sdk_fn, make in [
        (payload_visits.decode_activation, payload_visits.SDK_DECODE, _activation),
        (payload_visits.encode_completion, payload_visits.SDK_ENCODE, _completion),
    ]:
        ours, sdk = make(), make()
        await ours_fn(ours, pydantic_data_converter, False, 1)  # type: ignore[operator]
        await sdk_fn(sdk, pydantic_data_converter, False, 1)  # type: ignore[operator]
        assert ours == sdk == make()
