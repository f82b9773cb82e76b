"""Ed25519 signatures over an export's manifest, and the keys that make them.

``manifest.sig`` beside ``manifest.json`` holds the signature over the manifest's exact bytes and
the id of the key (the first 16 hex digits of the SHA-256 of its raw public key). The manifest
lists every file's SHA-256 and the chains, so one signature covers the whole bundle, and anyone
with the public key alone can check it: no secret, no database, no network.

Keys are PEM files: the private key PKCS#8 (written 0600), the public key beside it with
``.pub`` added to the name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"


class SigningKeyError(ValueError):
    """A key file that is missing or is not an Ed25519 key; the message names the file."""


class Signature(BaseModel):
    algorithm: str = ALGORITHM
    key_id: str
    signature: str  # base64 of the 64-byte Ed25519 signature over manifest.json's bytes


def public_key_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(private_path: Path) -> Ed25519PrivateKey:
    """A new key at ``private_path`` (0600) and its public key at ``<path>.pub``."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_key_path(private_path).write_bytes(public_pem(key.public_key()))
    return key


def ensure_key(private_path: Path) -> Ed25519PrivateKey:
    """The key at ``private_path``, generated first if there is none (development)."""
    if private_path.exists():
        return load_private_key(private_path)
    return generate_key(private_path)


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path} is not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"{path} is not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return key


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey) -> Signature:
    return Signature(
        key_id=key_id(key.public_key()),
        signature=base64.b64encode(key.sign(manifest)).decode(),
    )


def signature_bytes(signature: Signature) -> bytes:
    return (json.dumps(signature.model_dump(), indent=2, sort_keys=True) + "\n").encode()


def check_signature(manifest: bytes, signature_file: bytes, public: Ed25519PublicKey) -> str | None:
    """None when ``signature_file`` is a valid signature of ``manifest`` by ``public``; else why
    not, in a sentence."""
    try:
        signature = Signature.model_validate_json(signature_file)
        raw = base64.b64decode(signature.signature, validate=True)
    except (ValidationError, ValueError) as exc:
        return f"unreadable signature: {str(exc).splitlines()[0]}"
    if signature.algorithm != ALGORITHM:
        return f"signed with {signature.algorithm!r}, not {ALGORITHM}"
    expected = key_id(public)
    if signature.key_id != expected:
        return f"signed by key {signature.key_id}, not by the given public key {expected}"
    try:
        public.verify(raw, manifest)
    except InvalidSignature:
        return "the signature does not match manifest.json (changed after it was signed)"
    return None
