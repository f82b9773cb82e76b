"""Verifiable exports of a case: raw histories, the timeline, and a manifest that seals both.

An export directory holds

- ``history-<run_id>.json`` per run, exactly as ``WorkflowHistory.to_json()`` gives it;
- ``timeline.json``: the timeline, one canonical JSON entry per line inside a JSON array;
- ``manifest.json``: the SHA-256 of every other file, a hash chain over each run's history
  events, a hash chain over the timeline entries, and a seal over the manifest itself.

Chains: ``link_i = sha256(link_{i-1} + canonical_json(item_i))`` with ``link_-1`` = 64 zeros and
canonical JSON = sorted keys, no spaces, UTF-8. The last link of the timeline chain (the *head*)
stands for the whole case: write it down somewhere else (a ticket, a ledger) and any later edit of
the export is provable. :func:`verify_export` names the file and, where it can, the first entry or
history event whose link breaks.

:func:`build_export` makes the whole export in memory (the API serves it as JSON);
:func:`export_case` writes it to a directory. Both hash with the same code, so a bundle written
out with :meth:`ExportBundle.write` verifies exactly like a directory from ``export_case``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, Field
from temporalio.client import WorkflowHistory

from audit.signing import SIGNATURE, Signature, sign_manifest, signature_bytes
from audit.timeline import TimelineEntry, history_run_id

EXPORT_FORMAT = "collectflow-audit-export/1"
MANIFEST = "manifest.json"
TIMELINE = "timeline.json"
GENESIS = "0" * 64


class FileDigest(BaseModel):
    name: str
    sha256: str
    size: int


class RunRecord(BaseModel):
    run_id: str
    file: str
    events: int
    event_chain: list[str] = Field(description="chain link after each history event, in order")


class ChainLink(BaseModel):
    index: int
    run_id: str
    event_id: int
    seq: int | None
    hash: str


class Manifest(BaseModel):
    format: str = EXPORT_FORMAT
    workflow_id: str
    exported_at: datetime
    runs: list[RunRecord]
    files: list[FileDigest]
    timeline_chain: list[ChainLink]
    timeline_head: str
    seal: str = ""


class Problem(BaseModel):
    file: str
    message: str
    entry: int | None = None
    run_id: str | None = None
    event_id: int | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class VerifyResult(BaseModel):
    ok: bool
    workflow_id: str | None = None
    timeline_head: str | None = None
    checked: list[str] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)


# ---------------------------------------------------------------- hashing


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain(items: Sequence[Any]) -> list[str]:
    """The chain link after each item (JSON-compatible values)."""
    links, previous = [], GENESIS
    for item in items:
        previous = sha256_hex((previous + canonical_json(item)).encode())
        links.append(previous)
    return links


def _seal(manifest: Manifest) -> str:
    return sha256_hex(canonical_json(manifest.model_dump(mode="json", exclude={"seal"})).encode())


def manifest_bytes(manifest: Manifest) -> bytes:
    """``manifest.json`` exactly as written: 2-space indent, sorted keys, UTF-8, final newline."""
    text = json.dumps(
        manifest.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False
    )
    return (text + "\n").encode()


def _timeline_bytes(entries: Sequence[dict[str, Any]]) -> bytes:
    lines = ",\n".join(canonical_json(e) for e in entries)
    return (f"[\n{lines}\n]\n" if entries else "[]\n").encode()


def history_file_name(run_id: str) -> str:
    return f"history-{run_id}.json"


# ---------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportBundle:
    """A whole export in memory: the sealed manifest and every other file's exact bytes."""

    manifest: Manifest
    files: dict[str, bytes]
    signature: Signature | None = None

    def signed(self, key: Ed25519PrivateKey) -> ExportBundle:
        """The same bundle with ``manifest.sig``: Ed25519 over the manifest's exact bytes."""
        return replace(self, signature=sign_manifest(manifest_bytes(self.manifest), key))

    def write(self, out_dir: Path) -> None:
        """Write the files, ``manifest.json`` and any signature into ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (out_dir / name).write_bytes(data)
        (out_dir / MANIFEST).write_bytes(manifest_bytes(self.manifest))
        if self.signature is not None:
            (out_dir / SIGNATURE).write_bytes(signature_bytes(self.signature))


def build_export(
    histories: Sequence[WorkflowHistory],
    timeline: Sequence[TimelineEntry],
    *,
    exported_at: datetime | None = None,
) -> ExportBundle:
    """One case's export, in memory: ``history-<run_id>.json`` per run, ``timeline.json``, and
    the manifest sealing them."""
    if not histories:
        raise ValueError("nothing to export: no histories given")
    files: dict[str, bytes] = {}
    digests: list[FileDigest] = []

    def add(name: str, data: bytes) -> None:
        files[name] = data
        digests.append(FileDigest(name=name, sha256=sha256_hex(data), size=len(data)))

    runs = []
    for history in histories:
        run_id = history_run_id(history)
        name = history_file_name(run_id)
        add(name, history.to_json().encode())
        events = history.to_json_dict().get("events", [])
        runs.append(
            RunRecord(run_id=run_id, file=name, events=len(events), event_chain=chain(events))
        )
    entries = [entry.model_dump(mode="json") for entry in timeline]
    add(TIMELINE, _timeline_bytes(entries))
    links = [
        ChainLink(index=i, run_id=e.run_id, event_id=e.event_id, seq=e.seq, hash=link)
        for i, (e, link) in enumerate(zip(timeline, chain(entries), strict=True))
    ]
    manifest = Manifest(
        workflow_id=histories[0].workflow_id,
        exported_at=exported_at or datetime.now(UTC),
        runs=runs,
        files=digests,
        timeline_chain=links,
        timeline_head=links[-1].hash if links else GENESIS,
    )
    manifest.seal = _seal(manifest)
    return ExportBundle(manifest=manifest, files=files)


def export_case(
    histories: Sequence[WorkflowHistory],
    timeline: Sequence[TimelineEntry],
    out_dir: Path,
    *,
    exported_at: datetime | None = None,
    key: Ed25519PrivateKey | None = None,
) -> Manifest:
    """Write one case's export into ``out_dir`` (created if missing), signed with ``key`` if
    given, and return its manifest."""
    bundle = build_export(histories, timeline, exported_at=exported_at)
    (bundle.signed(key) if key is not None else bundle).write(out_dir)
    return bundle.manifest
