"""The payload codec (issue 16, item 2): Temporal holds ciphertext; the codec endpoint shows it
to an authorised user only.

A case is opened through the API on the real dev server; its history is then read by a client
*without* the codec, as anyone who reaches the Temporal frontend or UI would read it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.api.conftest import KEYS, ApiHarness
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.codec import ENCODING, KEY_ID, CodecError, EncryptionCodec, Keyring, new_key_text


async def _raw_input(api: ApiHarness, loan_id: str) -> Payload:
    """The case's start input as the server stores it, read with a plain (codec-less) client."""
    target = api.client.service_client.config.target_host
    plain = await Client.connect(target, data_converter=pydantic_data_converter)
    history = await plain.get_workflow_handle(f"case-{loan_id}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return started.input.payloads[0]


def _body(payload: Payload) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=[payload]))


async def test_a_payload_read_straight_from_temporal_is_ciphertext(api: ApiHarness) -> None:
    loan_id = await api.open_case(strategy="slow")
    raw = await _raw_input(api, loan_id)
    assert raw.metadata["encoding"] == ENCODING
    assert raw.metadata[KEY_ID] == b"test-1"
    for clear in (loan_id, "王芳", "+8613800138000", "文三路"):
        assert clear.encode() not in raw.data
    assert loan_id.encode() not in raw.SerializeToString()

    decoded = await api.http.post("/codec/decode", json=_body(raw), headers=api.auth("auditor"))
    assert decoded.status_code == 200, decoded.text
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    case_input = json.loads(base64.b64decode(payload["data"]))
    assert case_input["loan"]["loan_id"] == loan_id


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("auditor", 200),
        ("supervisor", 200),
        ("admin", 200),
        ("operator", 403),
        ("system", 403),
        (None, 401),
        ("wrong", 401),
    ],
)
async def test_only_supervisors_auditors_and_admins_may_use_the_codec(
    api: ApiHarness, role: str | None, status: int
) -> None:
    codec = EncryptionCodec(Keyring.from_text(TEST_PAYLOAD_KEYS, None))
    sealed = codec.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b'"secret"'))
    headers: dict[str, str] = {}
    if role == "wrong":
        headers = {"Authorization": "Bearer not-a-key"}
    elif role is not None:
        headers = {"Authorization": f"Bearer {KEYS[role]}"}
    for path, body in (
        ("/codec/decode", _body(sealed)),
        ("/codec/encode", _body(Payload(metadata={"encoding": b"json/plain"}, data=b"1"))),
    ):
        response = await api.http.post(path, json=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        if status == 200 and path.endswith("decode"):
            assert base64.b64decode(response.json()["payloads"][0]["data"]) == b'"secret"'
        if status == 403:
            assert "may not decode or encode Temporal payloads" in response.json()["detail"]


async def test_encode_then_decode_round_trips_and_a_foreign_key_is_422(api: ApiHarness) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    encoded = await api.http.post("/codec/encode", json=_body(plain), headers=api.auth("admin"))
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    decoded = await api.http.post(
        "/codec/decode", json={"payloads": [sealed]}, headers=api.auth("admin")
    )
    assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == b'{"a": 1}'
    foreign = EncryptionCodec(Keyring.from_text({"other": new_key_text()}, None)).encrypt(plain)
    refused = await api.http.post("/codec/decode", json=_body(foreign), headers=api.auth("admin"))
    assert refused.status_code == 422 and "unknown key 'other'" in refused.text
    junk = await api.http.post(
        "/codec/decode", json={"payloads": "nope"}, headers=api.auth("admin")
    )
    assert junk.status_code == 422 and junk.json()["detail"][0]["field"] == "payloads"


async def test_cors_admits_only_the_ui_origin(api: ApiHarness) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    ui = api.settings.temporal_ui_origin
    allowed = await api.http.options("/codec/decode", headers={"Origin": ui, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ui
    other = await api.http.options(
        "/codec/decode", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    assert (
        "access-control-allow-origin"
        not in (await api.http.options("/v1/cases", headers={"Origin": ui, **preflight})).headers
    )  # the rest of the API grants no cross-origin access


async def test_rotation_decrypts_with_any_known_key_and_encrypts_with_the_current() -> None:
    old, new = new_key_text(), new_key_text()
    before = EncryptionCodec(Keyring.from_text({"k1": old}, None))
    sealed_old = before.encrypt(Payload(data=b"x"))
    after = EncryptionCodec(Keyring.from_text({"k1": old, "k2": new}, "k2"))
    assert after.decrypt(sealed_old).data == b"x"
    assert after.encrypt(Payload(data=b"y")).metadata[KEY_ID] == b"k2"
    retired = EncryptionCodec(Keyring.from_text({"k2": new}, None))
    with pytest.raises(CodecError, match="unknown key 'k1'"):
        retired.decrypt(sealed_old)
    tampered = Payload()
    tampered.CopyFrom(sealed_old)
    tampered.data = sealed_old.data[:-1] + bytes([sealed_old.data[-1] ^ 1])
    with pytest.raises(CodecError, match="fails authentication"):
        before.decrypt(tampered)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert after.decrypt(plain) is plain  # histories from before the codec still read
