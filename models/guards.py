"""Production guards: what stops a process at start-up unless ``COLLECTFLOW_ENV=development``.

Each check returns the sentence a person reads when start-up is refused, naming the setting.
They run inside :class:`models.settings.Settings` validation, so no process — API, worker, CLI —
can be built on a configuration that lets demo keys, placeholder secrets or demo strategies in.
Malformed API-key entries are refused in every environment: a key that cannot name an actor
would otherwise fail each request it meets, not the start-up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.common import API_KEY_ROLES
from models.strategy import StrategyError, load_strategy

KEYS_SETTING = "COLLECTFLOW_API_KEYS"
DEV_ONLY = "COLLECTFLOW_ENV=development"

# Demo API keys (plain -> actor id, role): added in development, refused everywhere else.
DEMO_API_KEYS: dict[str, tuple[str, str]] = {
    "dev-system": ("demo-system", "system"),
    "dev-operator": ("demo-operator", "operator"),
    "dev-supervisor": ("demo-supervisor", "supervisor"),
    "dev-auditor": ("demo-auditor", "auditor"),
    "dev-admin": ("demo-admin", "admin"),
}
# Compared stripped and case-folded: " Sandbox-Token" is as much a placeholder as the original.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "dev-twilio-token", "sandbox-token"}
)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_ROLES = ", ".join(sorted(r.value for r in API_KEY_ROLES))


def hash_api_key(key: str) -> str:
    """API keys are stored as SHA-256 hex digests of the key without surrounding whitespace."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


@lru_cache(maxsize=1)
def demo_digests() -> dict[str, str]:
    """Digest -> demo key, for the demo keys in any case with any common whitespace around.

    Presented keys are stripped before hashing, so a digest of ``" dev-system"`` could never
    authenticate; it is refused anyway, since it shows someone configured a demo key.
    """
    spaces = ("", " ", "  ", "\t", "\n", "\r\n")
    found: dict[str, str] = {}
    for plain in DEMO_API_KEYS:
        for cased in {plain, plain.upper(), plain.title(), plain.capitalize()}:
            for before in spaces:
                for after in spaces:
                    text = f"{before}{cased}{after}"
                    found[hashlib.sha256(text.encode()).hexdigest()] = plain
    return found


def normalise_api_keys(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Digest (lower-case, stripped) -> {"id", "role"}; a ValueError names the bad entry."""
    keys: dict[str, dict[str, str]] = {}
    first_seen: dict[str, int] = {}
    for number, (stored, entry) in enumerate(raw.items(), start=1):
        where = f"{KEYS_SETTING} entry {number}"
        digest = str(stored).strip().lower()
        if not _DIGEST.match(digest):
            raise ValueError(
                f"{where} is not a SHA-256 hex digest (64 hex characters); store "
                "sha256(key), never the key itself"
            )
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} is not an object with 'id' and 'role'")
        for name in ("id", "role"):
            value = entry.get(name)
            if value is None:
                raise ValueError(f"{where} has no {name!r}")
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where} has an empty or non-text {name!r}")
        role = str(entry["role"]).strip()
        if role not in {r.value for r in API_KEY_ROLES}:  # 'borrower' is an actor, not a key
            raise ValueError(f"{where} has the unknown role {role!r}; roles: {_ROLES}")
        if digest in first_seen:
            raise ValueError(
                f"{KEYS_SETTING} entries {first_seen[digest]} and {number} hold the same digest"
            )
        first_seen[digest] = number
        keys[digest] = {"id": str(entry["id"]).strip(), "role": role}
    return keys


def api_key_problems(keys: Mapping[str, Mapping[str, str]]) -> Iterable[str]:
    if not keys:
        yield f"{KEYS_SETTING} is empty; configure at least one API key"
    demo = demo_digests()
    for number, digest in enumerate(keys, start=1):
        if digest in demo:
            yield (
                f"{KEYS_SETTING} entry {number} is the demo key {demo[digest]!r}; demo keys "
                f"work only with {DEV_ONLY}"
            )


def placeholder_problem(setting: str, value: str) -> str | None:
    if value.strip().casefold() in PLACEHOLDER_SECRETS:
        return (
            f"{setting} is a placeholder ({value.strip() or 'empty'!r}); set the real "
            f"secret (placeholders are accepted only with {DEV_ONLY})"
        )
    return None


def demo_strategy_problem(setting: str, name: str | None, directory: Path) -> str | None:
    """A configured strategy that is a demo one; a missing or broken file is left to its use."""
    if not name:
        return None
    try:
        strategy = load_strategy(name, directory)
    except StrategyError:
        return None
    if strategy.demo:
        return (
            f"{setting} names {name!r}, a demo strategy (demo = true); demo strategies "
            f"run only with {DEV_ONLY}"
        )
    return None


PAYLOAD_SETTING = "COLLECTFLOW_PAYLOAD_KEYS"
# Development's payload key: fixed so every local process (and the tests' servers) can read the
# others' payloads without set-up; refused wherever the guards apply, like the demo API keys.
DEV_PAYLOAD_KEY_ID = "dev-1"
DEV_PAYLOAD_KEY = base64.b64encode(hashlib.sha256(b"collectflow development payload key").digest())
DEV_PAYLOAD_KEYS = {DEV_PAYLOAD_KEY_ID: DEV_PAYLOAD_KEY.decode()}


def check_payload_keys(keys: Mapping[str, str], current: str | None) -> None:
    """Every environment: each key base64 of 32 bytes, the current one among them."""
    for number, (key_id, text) in enumerate(keys.items(), start=1):
        where = f"{PAYLOAD_SETTING} entry {number} ({key_id!r})"
        if not key_id.strip() or len(key_id) > 64:
            raise ValueError(f"{PAYLOAD_SETTING} entry {number} needs a key id of 1-64 characters")
        try:
            raw = base64.b64decode(str(text).strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{where} is not base64 ({exc})") from exc
        if len(raw) != 32:
            raise ValueError(f"{where} is {len(raw)} bytes; AES-256 needs 32 random bytes")
    if current is not None and current not in keys:
        raise ValueError(f"COLLECTFLOW_PAYLOAD_KEY_CURRENT {current!r} is not in {PAYLOAD_SETTING}")


def payload_key_problems(keys: Mapping[str, str]) -> Iterable[str]:
    if not keys:
        yield (
            f"{PAYLOAD_SETTING} is empty; Temporal payloads are encrypted outside development: "
            'set {"key-id": "<base64 of 32 random bytes>"}'
        )
    for key_id, text in keys.items():
        if str(text).strip() == DEV_PAYLOAD_KEY.decode():
            yield f"{PAYLOAD_SETTING} {key_id!r} is the development payload key; {DEV_ONLY} only"


VAULT_SETTING = "COLLECTFLOW_VAULT_KEYS"
HMAC_SETTING = "COLLECTFLOW_PHONE_HMAC_KEY"
# The vault's development keys: fixed so `collectflow dev` restarts can read their own data;
# refused wherever the guards apply, like the development payload key.
DEV_VAULT_KEYS = {"dev-kek-1": "ZGV2ZWxvcG1lbnQtb25seS12YXVsdC1rZWstMDAwMDE="}
DEV_PHONE_HMAC_KEY = "development-only-phone-hmac-key"


def vault_key_problems(
    keys: Mapping[str, str], current: str | None, hmac_key: str
) -> Iterable[str]:
    """Outside development the vault needs its own keys: refused at start-up, not at the first
    borrower (which would answer that request with a 500)."""
    if not keys:
        yield (
            f"{VAULT_SETTING} is empty; borrowers' personal data is sealed with it: "
            'set {"kek-id": "<base64 of 32 random bytes>"}'
        )
    for key_id, text in keys.items():
        if str(text).strip() in DEV_VAULT_KEYS.values():
            yield f"{VAULT_SETTING} {key_id!r} is the development vault key; {DEV_ONLY} only"
            continue
        try:
            raw = base64.b64decode(str(text).strip(), validate=True)
        except (binascii.Error, ValueError):
            yield f"{VAULT_SETTING} {key_id!r} is not base64"
            continue
        if len(raw) != 32:
            yield f"{VAULT_SETTING} {key_id!r} is {len(raw)} bytes; AES-256 needs 32 random bytes"
    if current is not None and keys and current not in keys:
        yield f"COLLECTFLOW_VAULT_KEY_CURRENT {current!r} is not in {VAULT_SETTING}"
    if not hmac_key.strip():
        yield f"{HMAC_SETTING} is empty; phone look-ups and the do-not-contact register need it"
    elif hmac_key.strip() == DEV_PHONE_HMAC_KEY:
        yield f"{HMAC_SETTING} is the development key; {DEV_ONLY} only"
