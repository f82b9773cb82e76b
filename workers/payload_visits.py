"""Walk a workflow activation's payloads only for the steps that can change them.

SDK 1.35 walks every activation three times on the way in (external-storage references, the
external-storage fetch, the codec) and every completion twice on the way out (the codec, the
external-storage store), whatever the data converter holds. CollectFlow configures no external
storage, so those walks only copy each payload list into itself; with no codec (the simulation,
the replay benchmark) the codec walk does too. Together they were 18% of a replay's CPU
(``bench/replay.py``). This keeps the SDK's own walk (the command-aware visitor, so each
payload's serialization context is the SDK's) for the codec, and skips the walks that have no
effect. A converter with external storage goes through the SDK's functions unchanged.
``tests/unit/test_payload_visits.py`` checks both forms give the SDK's result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics
from temporalio.worker._command_aware_visitor import CommandAwarePayloadVisitor

SDK_DECODE = bridge_worker.decode_activation
SDK_ENCODE = bridge_worker.encode_completion


async def decode_activation(
    activation: WorkflowActivation,
    data_converter: DataConverter,
    decode_headers: bool,
    storage_concurrency_limit: int,
) -> StorageOperationMetrics:
    if data_converter.external_storage is not None:
        return await SDK_DECODE(
            activation, data_converter, decode_headers, storage_concurrency_limit
        )
    code = data_converter._decode_payload_sequence
    return await _codec_walk(activation, data_converter, code, decode_headers)


async def encode_completion(
    completion: WorkflowActivationCompletion,
    data_converter: DataConverter,
    encode_headers: bool,
    storage_concurrency_limit: int,
) -> StorageOperationMetrics:
    if data_converter.external_storage is not None:
        return await SDK_ENCODE(
            completion, data_converter, encode_headers, storage_concurrency_limit
        )
    code = data_converter._encode_payload_sequence
    return await _codec_walk(completion, data_converter, code, encode_headers)


async def _codec_walk(
    proto: WorkflowActivation | WorkflowActivationCompletion,
    converter: DataConverter,
    code: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
    with_headers: bool,
) -> StorageOperationMetrics:
    """The SDK's command-aware walk running ``code`` (the converter's codec step) over
    ``proto``; none without a codec, where that step returns the payloads unchanged."""
    if converter.payload_codec is not None:
        visitor = CommandAwarePayloadVisitor(
            skip_search_attributes=True, skip_headers=not with_headers
        )
        await visitor.visit(bridge_worker._Visitor(code), proto)
    return StorageOperationMetrics()


def install() -> None:
    """Route the SDK's workflow worker (it calls these through the module) to the above."""
    module: Any = bridge_worker
    module.decode_activation = decode_activation
    module.encode_completion = encode_completion
