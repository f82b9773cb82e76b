"""Signed exports (issue 16, item 3): Ed25519 over the manifest, the head recorded at export.

Review found the seal an unkeyed SHA-256: edit a history, recompute the chains, re-seal, and
``verify`` passed; and ``verify`` followed ``../`` names from the manifest. Built on the
committed histories (no server): the real export, tampered the way an attacker would.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from activities.db import Database, upgrade_database
from audit.export import MANIFEST, Manifest, _seal, build_export, manifest_bytes
from audit.heads import ExportRefused, export_key, record_head, recorded_heads
from audit.replay import history_from_file
from audit.signing import (
    SIGNATURE,
    generate_key,
    load_private_key,
    load_public_key,
    public_key_path,
)
from audit.timeline import TimelineEntry, build_timeline
from audit.verify import load_export, verify_export
from models.settings import Settings, hash_api_key
from tests.conftest import TEST_PAYLOAD_KEYS, TEST_VAULT_ENV

HISTORY = Path(__file__).parent / "histories" / "scenario2.json"


def _timeline() -> tuple[list[WorkflowHistory], list[TimelineEntry]]:
    history = history_from_file(HISTORY)
    return [history], build_timeline([history])


def _export(directory: Path, key_path: Path) -> None:
    histories, timeline = _timeline()
    build_export(histories, timeline).signed(load_private_key(key_path)).write(directory)


def _reseal(directory: Path, key_path: Path | None) -> None:
    """The attack: change what the timeline says, rebuild every chain and the seal from the
    changed entries (and, with a key, sign again), as anyone with the code can."""
    manifest = json.loads((directory / MANIFEST).read_text())
    histories, timeline = _timeline()
    edited = list(timeline)
    edited[4] = edited[4].model_copy(update={"summary": "no SMS was sent"})  # a falsified entry
    bundle = build_export(
        histories, edited, exported_at=datetime.fromisoformat(manifest["exported_at"])
    )
    if key_path is not None:
        bundle = bundle.signed(load_private_key(key_path))
    for path in directory.iterdir():
        path.unlink()
    bundle.write(directory)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """The exporter's key, and an attacker's own."""
    ours, theirs = tmp_path / "keys" / "export.pem", tmp_path / "keys" / "attacker.pem"
    generate_key(ours)
    generate_key(theirs)
    return ours, theirs


def test_an_untouched_bundle_verifies_with_the_public_key_alone(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = tmp_path / "bundle"
    _export(bundle, keys[0])
    public = load_public_key(public_key_path(keys[0]))
    result = verify_export(bundle, public_key=public)
    assert result.ok, result.problems
    assert SIGNATURE in {p.name for p in bundle.iterdir()}
    other = verify_export(bundle, public_key=load_public_key(public_key_path(keys[1])))
    assert [p.file for p in other.problems] == [SIGNATURE]
    assert "not by the given public key" in other.problems[0].message


@pytest.mark.parametrize("resigned_by", ["nobody", "the attacker", "our own key"])
async def test_a_tampered_and_resealed_bundle_fails_verify(
    tmp_path: Path, keys: tuple[Path, Path], resigned_by: str
) -> None:
    """Unsigned or signed by another key, the public key catches it; signed with our own key
    (a leaked key, an insider), the timeline head recorded in the database at export does."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade_database, url)
    bundle = tmp_path / "bundle"
    _export(bundle, keys[0])
    db = Database(url)
    try:
        manifest, _ = load_export(bundle)
        await record_head(db, manifest, load_private_key(keys[0]))
        heads = await recorded_heads(db, manifest.workflow_id)
    finally:
        await db.dispose()
    public = load_public_key(public_key_path(keys[0]))
    assert verify_export(bundle, public_key=public, recorded_heads=heads).ok

    signer = {"nobody": None, "the attacker": keys[1], "our own key": keys[0]}[resigned_by]
    _reseal(bundle, signer)
    assert verify_export(bundle).ok  # hashes alone: the re-seal is self-consistent
    result = verify_export(bundle, public_key=public, recorded_heads=heads)
    assert not result.ok
    files = {p.file for p in result.problems}
    assert MANIFEST in files  # the head was never recorded
    assert any("was never recorded in the database" in p.message for p in result.problems)
    if resigned_by != "our own key":
        assert SIGNATURE in files


@pytest.mark.parametrize(
    "name",
    ["../outside.json", "/etc/passwd", "sub/history.json", "..\\outside.json", "C:evil", ".."],
)
def test_manifest_names_that_leave_the_bundle_are_refused(
    tmp_path: Path, keys: tuple[Path, Path], name: str
) -> None:
    """A manifest (even a correctly sealed one) naming a file outside the bundle is refused
    without opening it."""
    bundle = tmp_path / "bundle"
    _export(bundle, keys[0])
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    manifest_path = bundle / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"].append({"name": name, "sha256": "0" * 64, "size": 2})
    model = Manifest.model_validate(manifest)
    model.seal = _seal(model)
    manifest_path.write_bytes(manifest_bytes(model))
    result = verify_export(bundle)
    refused = [p for p in result.problems if p.file == name]
    assert refused and refused[0].message.startswith("refused:"), result.problems
    assert name not in result.checked


def test_production_refuses_an_export_without_a_key(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        api_keys={hash_api_key("k-0123456789"): {"id": "a", "role": "admin"}},
        twilio_auth_token="real-token-0123456789",
        payload_keys=TEST_PAYLOAD_KEYS,
        data_dir=tmp_path,
    )
    with pytest.raises(ExportRefused, match="COLLECTFLOW_EXPORT_SIGNING_KEY is not set"):
        export_key(settings)
    missing = settings.model_copy(update={"export_signing_key": tmp_path / "nope.pem"})
    with pytest.raises(ExportRefused, match="which does not exist"):
        export_key(missing)
    development = Settings(env="development", data_dir=tmp_path)
    export_key(development)  # made on first use, under the data directory
    assert (tmp_path / "export-signing-key.pem").is_file()
    assert oct((tmp_path / "export-signing-key.pem").stat().st_mode & 0o777) == "0o600"


def test_the_cli_refuses_to_export_without_a_key_in_production(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLECTFLOW_")}
    env |= {
        "COLLECTFLOW_API_KEYS": json.dumps(
            {hash_api_key("k-0123456789"): {"id": "a", "role": "admin"}}
        ),
        "COLLECTFLOW_TWILIO_AUTH_TOKEN": "real-token-0123456789",
        "COLLECTFLOW_DATA_DIR": str(tmp_path),
        "COLLECTFLOW_PAYLOAD_KEYS": json.dumps(TEST_PAYLOAD_KEYS),
        **TEST_VAULT_ENV,
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "audit", "export", "L-1", "--out", str(tmp_path / "x")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr + result.stdout
    assert "COLLECTFLOW_EXPORT_SIGNING_KEY is not set" in result.stderr + result.stdout
    assert not (tmp_path / "x").exists()
