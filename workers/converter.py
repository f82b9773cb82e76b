"""The pydantic payload converter, built once per process instead of once per workflow run.

The SDK builds a payload converter from its class for every workflow instance it creates
(twice: the worker's command-aware converter and the instance's own context-free one). The
pydantic converter's constructor builds a ``SchemaSerializer`` and an empty ``TypeAdapter``
cache, so every run of every case re-derived the adapters of ``CaseInput`` and each activity
result it decoded: about a sixth of a replay's activation time (``bench/replay.py``). Here
every converter the class makes shares one set of component converters. They hold no
per-workflow state (none takes a serialization context), and the adapter cache is a
``functools.lru_cache``, which is safe across the sandbox's activation threads. The bytes
written are the SDK's pydantic converter's own, so histories and payloads are unchanged.
"""

from __future__ import annotations

from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter, EncodingPayloadConverter

_SHARED: tuple[EncodingPayloadConverter, ...] = tuple(
    PydanticPayloadConverter().converters.values()
)


class SharedPydanticPayloadConverter(CompositePayloadConverter):
    """``PydanticPayloadConverter``'s encodings, each converter made once per process."""

    def __init__(self) -> None:
        super().__init__(*_SHARED)


DATA_CONVERTER = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)
"""What ``temporalio.contrib.pydantic.pydantic_data_converter`` is, with shared converters."""
