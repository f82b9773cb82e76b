"""One settings object for every process, read from ``COLLECTFLOW_*`` environment variables."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Demo API keys: they only work when COLLECTFLOW_ENV=development (refused at start-up otherwise).
DEMO_API_KEYS: dict[str, tuple[str, str]] = {
    "dev-system": ("demo-system", "system"),
    "dev-operator": ("demo-operator", "operator"),
    "dev-supervisor": ("demo-supervisor", "supervisor"),
    "dev-auditor": ("demo-auditor", "auditor"),
    "dev-admin": ("demo-admin", "admin"),
}
PLACEHOLDER_SECRETS = {"", "changeme", "dev-twilio-token", "sandbox-token"}
DEV_SESSION_SECRET = "dev-session-secret-not-for-production"  # screens' cookies, development only


def hash_api_key(key: str) -> str:
    """API keys are stored as SHA-256 hex digests; the plain key is never kept."""
    return hashlib.sha256(key.encode()).hexdigest()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLLECTFLOW_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless stderr is a TTY

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
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
    # JSON object: sha256(key) -> {"id": ..., "role": ...}
    api_keys: dict[str, dict[str, str]] = Field(default_factory=dict)

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

    data_dir: Path = PROJECT_ROOT / ".data"
    history_retention_days: int = Field(default=3650, ge=1)

    # --- screens (web/): signs session and CSRF cookies; see web_session_secret().
    session_secret: str = DEV_SESSION_SECRET
    session_hours: int = Field(default=12, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> Settings:
        if self.env != "production":
            return self
        if self.twilio_auth_token in PLACEHOLDER_SECRETS:
            raise ValueError("COLLECTFLOW_TWILIO_AUTH_TOKEN is a placeholder; set a real token")
        demo_hashes = {hash_api_key(k) for k in DEMO_API_KEYS}
        if demo_hashes & set(self.api_keys):
            raise ValueError("COLLECTFLOW_API_KEYS contains a demo key; demo keys are dev-only")
        if not self.api_keys:
            raise ValueError("COLLECTFLOW_API_KEYS is empty; configure at least one API key")
        return self

    def web_session_secret(self) -> str:
        """The secret signing the screens' cookies; a placeholder is refused outside development.

        Checked when the screens are mounted (api.app), not when Settings is built, so a worker,
        which serves no screen, does not need one.
        """
        if self.env != "development" and (
            self.session_secret in PLACEHOLDER_SECRETS | {DEV_SESSION_SECRET}
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
        if self.env == "development":
            for plain, actor in DEMO_API_KEYS.items():
                keys.setdefault(hash_api_key(plain), actor)
        return keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
