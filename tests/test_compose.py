"""docker-compose.yml is valid (issue 5 test 4), and refuses to run without its secrets.

There is no container engine here: ``docker-compose config`` parses, interpolates and validates
the file without one. CI installs Debian's docker-compose.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs installed; read-only use

from models.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")

# What an operator exports before `docker-compose up` (values here are stand-ins).
SECRETS = {
    "COLLECTFLOW_DB_PASSWORD": "app-db-password",
    "TEMPORAL_DB_PASSWORD": "temporal-db-password",
    "COLLECTFLOW_API_KEYS": '{"0123abcd": {"id": "loan-system", "role": "system"}}',
    "COLLECTFLOW_PUBLIC_BASE_URL": "https://collect.example.com",
    "COLLECTFLOW_TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "COLLECTFLOW_TWILIO_AUTH_TOKEN": "a-real-token",
    "COLLECTFLOW_TWILIO_FROM_NUMBER": "+15005550006",
    "COLLECTFLOW_PAYLOAD_KEYS": '{"k1": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}',
    "COLLECTFLOW_VAULT_KEYS": '{"v1": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}',
    "COLLECTFLOW_PHONE_HMAC_KEY": "a-phone-hmac-key-of-thirty-two-characters",
    "COLLECTFLOW_SESSION_SECRET": "a-session-secret-of-thirty-two-characters",
}

needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose is not installed (apt-get install docker-compose; CI installs it)",
)


def _compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config", *args],
        cwd=PROJECT_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_compose
def test_compose_file_is_valid() -> None:
    """`docker-compose config -q` accepts the file once the secrets are set."""
    result = _compose(SECRETS, "-q")
    assert result.returncode == 0, result.stderr


@needs_compose
def test_production_shape() -> None:
    """Temporal on PostgreSQL, the UI, the app database, api and worker from our Dockerfile,
    production settings, and start-up ordered by health and completed one-shots."""
    services = _compose(SECRETS, "--services").stdout.split()
    assert {"temporal", "temporal-db", "temporal-ui", "app-db", "api", "worker"} <= set(services)
    result = _compose(SECRETS)
    assert result.returncode == 0, result.stderr
    resolved = result.stdout
    for expected in (
        "DB: postgres12",
        "POSTGRES_SEEDS: temporal-db",
        "image: temporalio/ui:",
        "image: postgres:15",
        "COLLECTFLOW_ENV: production",
        "COLLECTFLOW_TEMPORAL_ADDRESS: temporal:7233",
        "postgresql+asyncpg://collectflow:app-db-password@app-db:5432/collectflow",
        "COLLECTFLOW_TWILIO_BASE_URL: https://api.twilio.com",
        "condition: service_healthy",
        "condition: service_completed_successfully",
        "healthcheck:",
    ):
        assert expected in resolved, expected
    # api, worker and the two one-shots are built from the Dockerfile.
    assert resolved.count("build:") == 4


@needs_compose
def test_missing_secret_is_refused_by_name() -> None:
    """Without a secret, compose stops at once and names the variable to set."""
    missing = {k: v for k, v in SECRETS.items() if k != "COLLECTFLOW_TWILIO_AUTH_TOKEN"}
    result = _compose(missing, "-q")
    assert result.returncode != 0
    assert "COLLECTFLOW_TWILIO_AUTH_TOKEN" in result.stderr


def _published(ports: list[object]) -> list[tuple[str, str]]:
    """(host address, container port) of each published port; "" when bound to every interface."""
    found = []
    for entry in ports:
        if isinstance(entry, dict):  # the long syntax
            found.append((str(entry.get("host_ip", "")), str(entry.get("target", ""))))
            continue
        # "${VAR:-8233}" holds a colon of its own: stand it in before splitting.
        parts = re.sub(r"\$\{[^}]*\}", "VAR", str(entry)).split(":")
        host = parts[0] if len(parts) == 3 else ""
        found.append((host, parts[-1]))
    return found


def test_no_temporal_port_is_published_on_every_interface() -> None:
    """Issue 16: the Temporal UI (no auth; it can signal, terminate, reset any case) was
    published on all interfaces. Read statically, no engine: the UI binds 127.0.0.1 only, the
    Temporal frontend is not published at all, and the UI reads payloads through the codec."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services = compose["services"]
    assert "ports" not in services["temporal"]
    ui = _published(services["temporal-ui"].get("ports", []))
    assert ui and all(host in ("127.0.0.1", "[::1]") for host, _ in ui), ui
    for name, service in services.items():
        for host, port in _published(service.get("ports", [])):
            if name.startswith("temporal") or port in ("7233", "8233", "8080"):
                assert host in ("127.0.0.1", "[::1]"), (name, host, port)
    codec = services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]
    assert codec.endswith("/codec")


def test_ci_validates_compose_with_every_required_secret() -> None:
    """`.ci/run` validates the compose file with stand-in secrets; a secret the file newly
    requires (`${VAR:?...}`) must get a stand-in there too, or CI fails before any test runs."""
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE_FILE.read_text()))
    ci_script = (PROJECT_ROOT / ".ci" / "run").read_text()
    validate = ci_script.split("validate_compose() {", 1)[1].split("\n}", 1)[0]
    given = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", validate))
    assert required, "the compose file requires no secrets: the pattern above is stale"
    assert required <= given, f"missing in .ci/run: {sorted(required - given)}"
    assert required <= set(SECRETS), f"missing in SECRETS: {sorted(required - set(SECRETS))}"
