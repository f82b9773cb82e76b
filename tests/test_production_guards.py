"""Production guards (issue 16, item 4): each bypass found in review now stops start-up.

Every bypass is tried twice: on ``Settings`` (the sentence, naming the setting) and on the real
``collectflow api`` start-up in its own process, with a clean environment and no ``.env``, which
must exit 2 with that sentence before it serves anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.auth import resolve_key
from models.guards import DEV_PHONE_HMAC_KEY, DEV_VAULT_KEYS
from models.settings import PROJECT_ROOT, Settings, SettingsRefused, hash_api_key, load_settings
from tests.conftest import TEST_PAYLOAD_KEYS

TOKEN = "twilio-real-looking-token-1234567890"
GOOD_KEY = "prod-admin-key-0123456789abcdef"
GOOD = {hash_api_key(GOOD_KEY): {"id": "admin-1", "role": "admin"}}


def _keys(*extra: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {**GOOD, **dict(extra)}


def _demo_strategy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "strategies"
    directory.mkdir()
    for name in ("default", "demo"):
        source = PROJECT_ROOT / "strategies" / f"{name}.toml"
        (directory / f"{name}.toml").write_text(source.read_text(encoding="utf-8"))
    return directory


# (bypass, environment variables, the sentence's telling part)
BYPASSES: list[tuple[str, dict[str, str], str]] = [
    (
        "the environment unset: it used to default to development and accept demo keys",
        {"COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN},
        "COLLECTFLOW_API_KEYS is empty",
    ),
    (
        "an upper-case SHA-256 of a demo key",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys((hash_api_key("dev-admin").upper(), {"id": "x", "role": "admin"}))
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "COLLECTFLOW_API_KEYS entry 2 is the demo key 'dev-admin'",
    ),
    (
        "a demo digest with whitespace around it",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys((f" {hash_api_key('dev-system')}\t", {"id": "x", "role": "system"}))
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "COLLECTFLOW_API_KEYS entry 2 is the demo key 'dev-system'",
    ),
    (
        "the digest of a demo key with whitespace around the plain key",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys(
                    (
                        hashlib.sha256(b" DEV-operator\n".upper()).hexdigest(),
                        {"id": "x", "role": "operator"},
                    )
                )
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "is the demo key 'dev-operator'",
    ),
    (
        "a placeholder token with a leading space",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(GOOD),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": " sandbox-token",
        },
        "COLLECTFLOW_TWILIO_AUTH_TOKEN is a placeholder",
    ),
    (
        "a placeholder token in another case",
        {"COLLECTFLOW_API_KEYS": json.dumps(GOOD), "COLLECTFLOW_TWILIO_AUTH_TOKEN": "ChangeMe "},
        "COLLECTFLOW_TWILIO_AUTH_TOKEN is a placeholder",
    ),
    (
        "env=test used to skip every check",
        {
            "COLLECTFLOW_ENV": "test",
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys((hash_api_key("dev-auditor"), {"id": "x", "role": "auditor"}))
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "(COLLECTFLOW_ENV=test): COLLECTFLOW_API_KEYS entry 2 is the demo key 'dev-auditor'",
    ),
    (
        "a key entry without an id (every request was a 500)",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys((hash_api_key("k2"), {"role": "admin"}), (hash_api_key("k3"), {"id": "a"}))
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "COLLECTFLOW_API_KEYS entry 2 has no 'id'",
    ),
    (
        "a key entry without a role",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(_keys((hash_api_key("k3"), {"id": "a"}))),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "COLLECTFLOW_API_KEYS entry 2 has no 'role'",
    ),
    (
        "a key entry with an unknown role",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(
                _keys((hash_api_key("k4"), {"id": "a", "role": "root"}))
            ),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
        },
        "COLLECTFLOW_API_KEYS entry 2 has the unknown role 'root'",
    ),
    (
        "the demo strategy as the default",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(GOOD),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
            "COLLECTFLOW_DEFAULT_STRATEGY": "demo",
        },
        "COLLECTFLOW_DEFAULT_STRATEGY names 'demo', a demo strategy",
    ),
    (
        "the demo strategy as the challenger",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(GOOD),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
            "COLLECTFLOW_CHALLENGER_STRATEGY": "demo",
            "COLLECTFLOW_CHALLENGER_SHARE": "0.1",
        },
        "COLLECTFLOW_CHALLENGER_STRATEGY names 'demo', a demo strategy",
    ),
    (
        "no vault keys: the first borrower used to be answered with a 500",
        {"COLLECTFLOW_API_KEYS": json.dumps(GOOD), "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN},
        "COLLECTFLOW_VAULT_KEYS is empty",
    ),
    (
        "the development vault key and phone HMAC key",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(GOOD),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
            "COLLECTFLOW_VAULT_KEYS": json.dumps(DEV_VAULT_KEYS),
            "COLLECTFLOW_PHONE_HMAC_KEY": DEV_PHONE_HMAC_KEY,
        },
        "COLLECTFLOW_VAULT_KEYS 'dev-kek-1' is the development vault key",
    ),
    (
        "a vault key of the wrong length",
        {
            "COLLECTFLOW_API_KEYS": json.dumps(GOOD),
            "COLLECTFLOW_TWILIO_AUTH_TOKEN": TOKEN,
            "COLLECTFLOW_VAULT_KEYS": json.dumps({"k1": "c2hvcnQ="}),
            "COLLECTFLOW_PHONE_HMAC_KEY": " ",
        },
        "COLLECTFLOW_VAULT_KEYS 'k1' is 5 bytes",
    ),
]
IDS = [b[0] for b in BYPASSES]


def _clean_environment(tmp_path: Path, variables: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COLLECTFLOW_")}
    return {**base, "COLLECTFLOW_STRATEGY_DIR": str(_demo_strategy_dir(tmp_path)), **variables}


@pytest.mark.parametrize(("bypass", "variables", "sentence"), BYPASSES, ids=IDS)
def test_settings_refuse_the_bypass_with_a_sentence(
    bypass: str,
    variables: dict[str, str],
    sentence: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for name in [k for k in os.environ if k.startswith("COLLECTFLOW_")]:
        monkeypatch.delenv(name)
    for name, value in _clean_environment(tmp_path, variables).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsRefused) as refused:
        load_settings()
    assert sentence in str(refused.value), bypass
    assert "Traceback" not in str(refused.value) and "input_value" not in str(refused.value)


@pytest.mark.parametrize(("bypass", "variables", "sentence"), BYPASSES, ids=IDS)
def test_api_start_up_stops_on_the_bypass(
    bypass: str, variables: dict[str, str], sentence: str, tmp_path: Path
) -> None:
    """The real ``collectflow api``: exit 2, the sentence on stderr, never listening."""
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "api", "--port", "1"],
        cwd=tmp_path,
        env=_clean_environment(tmp_path, variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, (bypass, result.stdout, result.stderr)
    assert sentence in result.stderr, (bypass, result.stderr)
    assert "Traceback" not in result.stderr
    assert "Uvicorn running" not in result.stderr + result.stdout


def test_development_is_the_only_environment_with_demo_keys() -> None:
    """Explicit development keeps the demo keys and the sandbox token; nothing else does."""
    dev = Settings(env="development")
    assert resolve_key("dev-admin", dev.resolved_api_keys()) is not None
    assert Settings.model_fields["env"].default == "production"
    for env in ("test", "production"):
        with pytest.raises(SettingsRefused):
            load_settings(env=env, api_keys={}, twilio_auth_token=TOKEN)


def test_a_well_configured_production_starts_and_keys_match_in_any_digest_case() -> None:
    """An upper-case digest of a real key is stored lower-case and still authenticates, with
    whitespace around the presented key ignored; a wrong key does not."""
    upper = {hash_api_key(GOOD_KEY).upper(): {"id": "admin-1", "role": "admin"}}
    settings = load_settings(
        env="production", api_keys=upper, twilio_auth_token=TOKEN, payload_keys=TEST_PAYLOAD_KEYS
    )
    keys = settings.resolved_api_keys()
    assert list(keys) == [hash_api_key(GOOD_KEY)]
    actor = resolve_key(f" {GOOD_KEY} ", keys)
    assert actor is not None and actor.id == "admin-1" and actor.role.value == "admin"
    assert resolve_key("dev-admin", keys) is None
    assert resolve_key(GOOD_KEY + "x", keys) is None


def test_malformed_key_entries_are_refused_even_in_development() -> None:
    """A key that cannot name an actor fails start-up everywhere, never a request."""
    with pytest.raises(SettingsRefused, match="COLLECTFLOW_API_KEYS entry 1 has no 'id'"):
        load_settings(env="development", api_keys={hash_api_key("k"): {"role": "admin"}})
    with pytest.raises(SettingsRefused, match="is not a SHA-256 hex digest"):
        load_settings(env="development", api_keys={"dev-admin": {"id": "a", "role": "admin"}})
    with pytest.raises(SettingsRefused, match="unknown role 'borrower'"):  # an actor, not a key
        load_settings(
            env="development", api_keys={hash_api_key("k"): {"id": "b", "role": "borrower"}}
        )
    with pytest.raises(SettingsRefused, match="is not an object with 'id' and 'role'"):
        load_settings(env="development", api_keys={hash_api_key("k"): "admin"})


def test_unreadable_keys_json_is_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLLECTFLOW_API_KEYS", "{not json")
    with pytest.raises(SettingsRefused, match="COLLECTFLOW_API_KEYS cannot be read"):
        load_settings()
