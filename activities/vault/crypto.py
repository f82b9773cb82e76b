"""The vault's cryptography, pure (no I/O): envelope encryption with AES-GCM and a keyed phone
fingerprint.

Each borrower has one random 256-bit data key (DEK); every field of theirs is sealed with it.
The DEK is stored wrapped by a key-encryption key (KEK) from the settings, with the KEK's id, so
KEKs rotate by rewrapping DEKs (never re-encrypting data) and erasure is deleting one DEK.
Associated data binds each ciphertext to its borrower (and purpose): a sealed value copied onto
another borrower's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.settings import Settings

NONCE_BYTES = 12
KEY_BYTES = 32


class VaultError(ValueError):
    """A key that cannot be used or a ciphertext that does not open; names which."""


@dataclass(frozen=True)
class VaultKeys:
    keks: dict[str, bytes]
    current: str
    phone_key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> VaultKeys:
        texts, current, hmac_key = settings.resolved_vault_keys()
        keks: dict[str, bytes] = {}
        for kek_id, text in texts.items():
            try:
                keks[kek_id] = base64.b64decode(text.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise VaultError(f"vault key {kek_id!r} is not base64: {exc}") from exc
            if len(keks[kek_id]) != KEY_BYTES:
                raise VaultError(f"vault key {kek_id!r} is {len(keks[kek_id])} bytes; need 32")
        chosen = current or list(keks)[-1]
        if chosen not in keks:
            raise VaultError(f"the current vault key {chosen!r} is not among the vault keys")
        return cls(keks=keks, current=chosen, phone_key=hmac_key.encode())

    def phone_hmac(self, phone: str) -> str:
        return phone_hmac(self.phone_key, phone)


def phone_hmac(key: bytes, phone: str) -> str:
    """HMAC-SHA256 of the E.164 number, hex: finds a borrower or an opt-out by phone without
    storing the number. Keyed, so the 10^10 possible numbers cannot be hashed and compared."""
    return hmac.new(key, phone.strip().encode(), hashlib.sha256).hexdigest()


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _seal(key: bytes, plain: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, aad)).decode()


def _open(key: bytes, sealed: str, aad: bytes) -> bytes:
    try:
        raw = base64.b64decode(sealed, validate=True)
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise VaultError("a sealed value does not open with its key") from exc


def wrap(keys: VaultKeys, dek: bytes, borrower_id: str) -> tuple[str, str]:
    """(KEK id, the DEK sealed under the current KEK)."""
    aad = f"dek:{borrower_id}".encode()
    return keys.current, _seal(keys.keks[keys.current], dek, aad)


def unwrap(keys: VaultKeys, kek_id: str, wrapped: str, borrower_id: str) -> bytes:
    kek = keys.keks.get(kek_id)
    if kek is None:
        raise VaultError(f"data key wrapped with unknown vault key {kek_id!r}")
    return _open(kek, wrapped, f"dek:{borrower_id}".encode())


def seal(dek: bytes, text: str, purpose: str) -> str:
    return _seal(dek, text.encode(), purpose.encode())


def open_sealed(dek: bytes, sealed: str, purpose: str) -> str:
    return _open(dek, sealed, purpose.encode()).decode()


def seal_bytes(dek: bytes, plain: bytes, purpose: str) -> bytes:
    """A file's bytes sealed: nonce then ciphertext (no base64: evidence files are large)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(dek).encrypt(nonce, plain, purpose.encode())


def open_bytes(dek: bytes, sealed: bytes, purpose: str) -> bytes:
    try:
        return AESGCM(dek).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], purpose.encode())
    except (InvalidTag, ValueError) as exc:
        raise VaultError("a sealed file does not open with its key") from exc


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
