"""Password hashes (argon2id), session tokens and signed cookie values, CSRF comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

# argon2-cffi's defaults (RFC 9106's low-memory profile): ~50 ms and 64 MiB per hash here.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verification
# and the answer time does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


class CookieSigner:
    """Signs cookie values with the session secret, one salt per cookie purpose."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def sign(self, purpose: str, value: str) -> str:
        return URLSafeSerializer(self._secret, salt=purpose).dumps(value)

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            value = URLSafeSerializer(self._secret, salt=purpose).loads(signed)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
