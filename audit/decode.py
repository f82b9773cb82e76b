"""A history as the workflow saw it: every payload decoded through the client's codec.

Temporal stores what the codec made (ciphertext); the timeline, the export and anything that
reads payloads need them decoded first. The walk is generic over the history protos, so a new
event type with payloads is covered without a change here.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

_PAYLOAD = Payload.DESCRIPTOR.full_name
_PAYLOADS = Payloads.DESCRIPTOR.full_name


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


async def _decode_payload(payload: Payload, codec: PayloadCodec) -> None:
    [decoded] = await codec.decode([payload])
    if decoded is not payload:
        payload.CopyFrom(decoded)


async def decode_message(message: Message, codec: PayloadCodec) -> None:
    """Decode, in place, every Payload and Payloads inside ``message``."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        if kind.GetOptions().map_entry:
            entry_value = kind.fields_by_name["value"]
            if entry_value.message_type is None:
                continue
            for key in list(value):
                item = value[key]
                if entry_value.message_type.full_name == _PAYLOAD:
                    await _decode_payload(item, codec)
                else:
                    await decode_message(item, codec)
            continue
        items = list(value) if _repeated(field) else [value]
        for item in items:
            if kind.full_name == _PAYLOAD:
                await _decode_payload(item, codec)
            elif kind.full_name == _PAYLOADS:
                decoded = await codec.decode(list(item.payloads))
                del item.payloads[:]
                item.payloads.extend(decoded)
            else:
                await decode_message(item, codec)


async def decoded_history(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    if codec is None:
        return history
    for event in history.events:
        await decode_message(event, codec)
    return history
