"""The payload codec: every payload CollectFlow hands Temporal is AES-GCM ciphertext.

Each encrypted payload's metadata names its encoding (``binary/encrypted``) and the id of the
key that sealed it; its data is a 12-byte random nonce and the ciphertext of the original
payload (metadata and data, serialised), authenticated with the key id. A keyring holds every
key still needed to read old histories and one current key for new payloads, so keys rotate
without re-encrypting anything: add a key, make it current, keep the old ones until their
histories are past retention. A payload that is not encrypted (histories recorded before the
codec) passes through unchanged, so every committed history still replays.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from models.settings import Settings
from workers.converter import DATA_CONVERTER

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload that cannot be decrypted, or a key that cannot be used; names which."""


@dataclasses.dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise CodecError(f"the current payload key {self.current!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise CodecError(f"payload key {key_id!r} is {len(key)} bytes; AES-256 needs 32")

    @classmethod
    def from_text(cls, keys: Mapping[str, str], current: str | None) -> Keyring:
        """From base64 text (as in ``COLLECTFLOW_PAYLOAD_KEYS``); current defaults to the last."""
        decoded: dict[str, bytes] = {}
        for key_id, text in keys.items():
            try:
                decoded[key_id] = base64.b64decode(text.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise CodecError(f"payload key {key_id!r} is not base64: {exc}") from exc
        if not decoded:
            raise CodecError("no payload keys")
        return cls(keys=decoded, current=current or list(decoded)[-1])


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.keyring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # recorded before the codec: plain
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload sealed with unknown key {key_id!r}; known: {sorted(self._ciphers)}"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag as exc:
            raise CodecError(f"payload sealed with key {key_id!r} fails authentication") from exc
        original = Payload()
        original.ParseFromString(plain)
        return original


def keyring_for(settings: Settings) -> Keyring:
    keys, current = settings.resolved_payload_keys()
    return Keyring.from_text(keys, current)


def converter_for(settings: Settings) -> DataConverter:
    return data_converter(keyring_for(settings))


def data_converter(keyring: Keyring | None) -> DataConverter:
    """The pydantic converter (Decimal, datetime), with the codec when there is a keyring."""
    if keyring is None:
        return DATA_CONVERTER
    return dataclasses.replace(DATA_CONVERTER, payload_codec=EncryptionCodec(keyring))
