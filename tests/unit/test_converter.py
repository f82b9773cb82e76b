"""The shared payload converter writes the SDK's pydantic bytes and keeps adapters across runs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, pydantic_data_converter

from models.case import CaseInput, PaymentInput
from models.common import SYSTEM_ACTOR
from tests.factories import case_input
from workers.converter import DATA_CONVERTER, SharedPydanticPayloadConverter

PAID_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _json_converter(converter: SharedPydanticPayloadConverter) -> PydanticJSONPlainPayloadConverter:
    found = converter.converters[b"json/plain"]
    assert isinstance(found, PydanticJSONPlainPayloadConverter)
    return found


def test_payloads_are_byte_for_byte_the_sdk_pydantic_converters() -> None:
    """Histories written before the change replay after it: the same value, the same bytes."""
    values = [case_input(), None, b"raw", {"amount": Decimal("12.30")}]
    ours = DATA_CONVERTER.payload_converter.to_payloads(values)
    sdk = pydantic_data_converter.payload_converter.to_payloads(values)
    assert len(sdk) == 4
    assert ours == sdk
    back = DATA_CONVERTER.payload_converter.from_payloads(sdk[:3], [CaseInput, type(None), bytes])
    assert back == values[:3]


def test_a_new_runs_converter_reuses_the_type_adapters_of_earlier_runs() -> None:
    """The SDK makes a converter per workflow run; each used to start with an empty cache."""
    payload = DATA_CONVERTER.payload_converter.to_payloads(
        [
            PaymentInput(
                payment_ref="P-1", amount=Decimal("5.00"), paid_at=PAID_AT, actor=SYSTEM_ACTOR
            )
        ]
    )
    first, second = SharedPydanticPayloadConverter(), SharedPydanticPayloadConverter()
    first.from_payloads(payload, [PaymentInput])
    hits = _json_converter(second)._type_adapter.cache_info().hits
    second.from_payloads(payload, [PaymentInput])
    assert _json_converter(second)._type_adapter.cache_info().hits == hits + 1
