"""One settings object for every process, read from ``COLLECTFLOW_*`` environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.guards import (
    DEMO_API_KEYS,
    DEV_PAYLOAD_KEYS,
    DEV_PHONE_HMAC_KEY,
    DEV_VAULT_KEYS,
    PLACEHOLDER_SECRETS,
    api_key_problems,
    check_payload_keys,
    demo_strategy_problem,
    hash_api_key,
    normalise_api_keys,
    payload_key_problems,
    placeholder_problem,
    vault_key_problems,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
Environment = Literal["development", "test", "production"]

DEV_SESSION_SECRET = "dev-session-secret-not-for-production"  # screens' cookies, development only

__all__ = [
    "DEMO_API_KEYS",
    "DEV_SESSION_SECRET",
    "PLACEHOLDER_SECRETS",
    "PROJECT_ROOT",
    "Settings",
    "SettingsRefused",
    "get_settings",
    "hash_api_key",
    "load_settings",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COLLECTFLOW_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,  # a refused configuration may hold real secrets
    )

    # Production unless said otherwise: a process whose environment was forgotten gets the
    # guards, never the demo keys. `collectflow dev` and the test fixtures say `development`.
    env: Environment = "production"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless stderr is a TTY

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    # The Temporal UI's origin: the only one the codec endpoint's CORS admits.
    temporal_ui_origin: str = "http://127.0.0.1:8233"
    task_queue: str = "collectflow-cases"
    messaging_task_queue: str = "collectflow-messaging"
    # Twilio's long-code pace is about one message a second; tests and simulate lift it.
    # The worker's Temporal SDK metrics (Prometheus); empty turns the endpoint off.
    worker_metrics_address: str = "127.0.0.1:9464"
    # None lifts the limit (tests, simulate: the sandbox is local).
    messaging_rate_per_second: float | None = Field(default=1.0, gt=0)
    # Sticky-cache size of the case worker (see workers/temporal.py MAX_CACHED_WORKFLOWS).
    worker_max_cached_workflows: int = Field(default=500, ge=1)

    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / '.data' / 'collectflow.db'}"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    # Temporal payload encryption (AES-GCM): JSON {"key-id": "<base64 of 32 bytes>"}; new
    # payloads use the current key (default: the last), old ones decrypt with any listed key.
    # Empty in development: a fixed development key. Required everywhere else.
    payload_keys: dict[str, str] = Field(default_factory=dict)
    payload_key_current: str | None = None
    # The borrower vault (DESIGN §10): key-encryption keys that wrap each borrower's data key,
    # JSON {"kek-id": "<base64 of 32 bytes>"}, the current one (default: the last), and the key
    # of the phone HMAC (lookups, the do-not-contact register). Empty in development: fixed
    # development keys; a process that opens the vault elsewhere refuses to run without them.
    vault_keys: dict[str, str] = Field(default_factory=dict)
    vault_key_current: str | None = None
    phone_hmac_key: str = ""

    # JSON object: sha256(key) -> {"id": ..., "role": ...}; digests are kept lower-case.
    api_keys: dict[str, dict[str, str]] = Field(default_factory=dict)

    # Per API key, in this API process: sustained requests a second and the burst allowed at
    # once; past that 429 with Retry-After. None lifts the limit.
    api_rate_per_second: float | None = Field(default=20.0, gt=0)
    api_rate_burst: int = Field(default=100, ge=1)

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "sandbox-token"
    twilio_base_url: str = "http://127.0.0.1:8088"
    twilio_from_number: str = "+15005550006"
    twilio_timeout_seconds: float = Field(default=10.0, gt=0)
    # An attempt a crash left without the provider's answer is only judged "not sent" once
    # Twilio has had this long to list it (a queued message has no DateSent yet).
    twilio_reconcile_settle_seconds: float = Field(default=15.0, ge=0)
    # How often each worker reconciles contact attempts no retry will come back for.
    contact_sweep_every_seconds: float = Field(default=30.0, gt=0)
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8088

    strategy_dir: Path = PROJECT_ROOT / "strategies"
    default_strategy: str = "default"
    challenger_strategy: str | None = None
    challenger_share: float = Field(default=0.0, ge=0.0, le=1.0)

    # What one API request may read of a case's history: runs fetched (continue-as-new keeps
    # each run bounded), timeline entries per page, and the size of an export or raw history.
    history_max_runs: int = Field(default=100, ge=1)
    history_page_max: int = Field(default=1000, ge=1)
    export_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)

    # Ed25519 private key (PEM) that signs audit exports; required outside development, where
    # `collectflow dev` makes one under the data directory. Its public key: the same path + .pub.
    export_signing_key: Path | None = None

    data_dir: Path = PROJECT_ROOT / ".data"
    history_retention_days: int = Field(default=3650, ge=1)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _well_formed_keys(cls, value: Any) -> dict[str, dict[str, str]]:
        # Every environment: a malformed entry would otherwise fail each request it meets.
        if not isinstance(value, dict):
            raise ValueError("COLLECTFLOW_API_KEYS is not a JSON object of digest -> entry")
        return normalise_api_keys(value)

    # --- screens (web/): signs session and CSRF cookies; see web_session_secret().
    session_secret: str = DEV_SESSION_SECRET
    session_hours: int = Field(default=12, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _well_formed_payload_keys(self) -> Settings:
        check_payload_keys(self.payload_keys, self.payload_key_current)
        return self

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        """Outside development: no demo keys, placeholder secrets or demo strategies."""
        if self.env == "development":
            return self
        problems = [
            *api_key_problems(self.api_keys),
            *payload_key_problems(self.payload_keys),
            *vault_key_problems(self.vault_keys, self.vault_key_current, self.phone_hmac_key),
            placeholder_problem("COLLECTFLOW_TWILIO_AUTH_TOKEN", self.twilio_auth_token),
            demo_strategy_problem(
                "COLLECTFLOW_DEFAULT_STRATEGY", self.default_strategy, self.strategy_dir
            ),
            demo_strategy_problem(
                "COLLECTFLOW_CHALLENGER_STRATEGY", self.challenger_strategy, self.strategy_dir
            ),
        ]
        found = [p for p in problems if p]
        if found:
            raise ValueError(f"refusing to start (COLLECTFLOW_ENV={self.env}): {'; '.join(found)}")
        return self

    @property
    def allows_demo(self) -> bool:
        """Demo keys, demo strategies and placeholder secrets: development only."""
        return self.env == "development"

    def resolved_payload_keys(self) -> tuple[dict[str, str], str | None]:
        """The payload keys in force and the current key id (development: its fixed key)."""
        if not self.payload_keys and self.allows_demo:
            return dict(DEV_PAYLOAD_KEYS), None
        return dict(self.payload_keys), self.payload_key_current

    def resolved_vault_keys(self) -> tuple[dict[str, str], str | None, str]:
        """KEKs, the current KEK id and the phone HMAC key (development: fixed keys)."""
        keys, current, hmac_key = dict(self.vault_keys), self.vault_key_current, self.phone_hmac_key
        if self.allows_demo:
            keys = keys or dict(DEV_VAULT_KEYS)
            hmac_key = hmac_key or DEV_PHONE_HMAC_KEY
        if not keys or not hmac_key.strip():
            raise ValueError(
                "COLLECTFLOW_VAULT_KEYS and COLLECTFLOW_PHONE_HMAC_KEY must be set outside "
                "development: they seal borrowers' personal data"
            )
        return keys, current, hmac_key

    def web_session_secret(self) -> str:
        """The secret signing the screens' cookies; a placeholder is refused outside development.

        Checked when the screens are mounted (api.app), not when Settings is built, so a worker,
        which serves no screen, does not need one.
        """
        if self.env != "development" and (
            self.session_secret.strip().casefold() in PLACEHOLDER_SECRETS
            or self.session_secret == DEV_SESSION_SECRET
            or len(self.session_secret) < 32
        ):
            raise ValueError(
                "COLLECTFLOW_SESSION_SECRET is a placeholder or shorter than 32 characters; "
                "set a long random secret outside development"
            )
        return self.session_secret

    def resolved_api_keys(self) -> dict[str, tuple[str, str]]:
        """Hashed key -> (actor id, role), with the demo keys added in development only."""
        keys = {h: (v["id"], v["role"]) for h, v in self.api_keys.items()}
        if self.allows_demo:
            for plain, actor in DEMO_API_KEYS.items():
                keys.setdefault(hash_api_key(plain), actor)
        return keys


class SettingsRefused(Exception):
    """The configuration cannot start a process; the message is the sentences to print."""


def refusal_sentences(exc: ValidationError) -> str:
    """Each validation error as ``field: message``, without pydantic's framing."""
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in error["loc"])
        lines.append(message if not field or "COLLECTFLOW_" in message else f"{field}: {message}")
    return "\n".join(lines)


def load_settings(**values: Any) -> Settings:
    """Settings, or :class:`SettingsRefused` carrying sentences a person can act on."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsRefused(refusal_sentences(exc)) from None
    except ValueError as exc:  # pydantic-settings' own parse errors (e.g. invalid JSON)
        named = re.search(r'field "(\w+)"', str(exc))
        setting = f"COLLECTFLOW_{named.group(1).upper()}" if named else "a COLLECTFLOW_ setting"
        raise SettingsRefused(f"{setting} cannot be read: {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
