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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from temporalio.client import WorkflowHistory

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

    def write(self, out_dir: Path) -> None:
        """Write the files and ``manifest.json`` into ``out_dir`` (created if missing)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (out_dir / name).write_bytes(data)
        (out_dir / MANIFEST).write_bytes(manifest_bytes(self.manifest))


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
) -> Manifest:
    """Write one case's export into ``out_dir`` (created if missing) and return its manifest."""
    bundle = build_export(histories, timeline, exported_at=exported_at)
    bundle.write(out_dir)
    return bundle.manifest


def load_export(directory: Path) -> tuple[Manifest, list[WorkflowHistory]]:
    """The manifest and the runs' histories of an export, first run first (not verified)."""
    manifest = Manifest.model_validate_json((directory / MANIFEST).read_bytes())
    histories = [
        WorkflowHistory.from_json(manifest.workflow_id, (directory / run.file).read_text("utf-8"))
        for run in manifest.runs
    ]
    return manifest, histories


# ---------------------------------------------------------------- verify


def _json_error(exc: json.JSONDecodeError) -> str:
    return f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"


def _first_break(expected: Sequence[str], actual: Sequence[str]) -> int | None:
    for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return i
    if len(expected) != len(actual):
        return min(len(expected), len(actual))
    return None


def _locate_history(name: str, text: str, run: RunRecord) -> Problem:
    try:
        events = json.loads(text).get("events", [])
    except (json.JSONDecodeError, AttributeError) as exc:
        event_id = None
        if isinstance(exc, json.JSONDecodeError):
            ids = re.findall(r'"eventId":\s*"(\d+)"', text[: exc.pos])
            event_id = int(ids[-1]) if ids else None
        where = f" (in or after history event {event_id})" if event_id else ""
        detail = _json_error(exc) if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Problem(file=name, message=f"{detail}{where}", run_id=run.run_id, event_id=event_id)
    broken = _first_break(run.event_chain, chain(events))
    if broken is None:
        message = "bytes changed but every history event still matches its chain link"
        return Problem(file=name, message=message, run_id=run.run_id)
    event_id = broken + 1
    if broken < len(events) and isinstance(events[broken], dict):
        event_id = int(events[broken].get("eventId", event_id))
    return Problem(
        file=name,
        message=f"history event {event_id} does not match the event chain "
        f"(first broken link; {len(events)} events, {run.events} exported)",
        run_id=run.run_id,
        event_id=event_id,
    )


def _entry_problem(links: Sequence[ChainLink], index: int, message: str) -> Problem:
    link = links[index] if index < len(links) else None
    where = f"entry {index}"
    if link is not None:
        where += f" (run {link.run_id}, history event {link.event_id}"
        where += f", case event {link.seq})" if link.seq is not None else ")"
    return Problem(
        file=TIMELINE,
        message=f"{where} {message}",
        entry=index,
        run_id=link.run_id if link else None,
        event_id=link.event_id if link else None,
    )


def _locate_timeline(text: str, manifest: Manifest) -> Problem:
    links = manifest.timeline_chain
    try:
        entries = json.loads(text)
        if not isinstance(entries, list):
            raise TypeError("the timeline is not a JSON array")
    except json.JSONDecodeError as exc:
        # One entry per line after the opening bracket: the line locates the entry.
        index = max(0, min(exc.lineno - 2, len(links) - 1))
        return _entry_problem(links, index, f"is damaged: {_json_error(exc)}")
    except TypeError as exc:
        return Problem(file=TIMELINE, message=str(exc))
    broken = _first_break([link.hash for link in links], chain(entries))
    if broken is None:
        return Problem(file=TIMELINE, message="bytes changed but every entry matches its link")
    return _entry_problem(links, broken, "does not match the hash chain (first broken link)")


def _read_manifest(directory: Path, result: VerifyResult) -> Manifest | None:
    path = directory / MANIFEST
    if not path.is_file():
        result.problems.append(Problem(file=MANIFEST, message="missing"))
        return None
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as exc:
        result.problems.append(Problem(file=MANIFEST, message=f"unreadable: {exc}"))
        return None
    result.checked.append(MANIFEST)
    if manifest.seal != _seal(manifest):
        result.problems.append(
            Problem(file=MANIFEST, message="contents do not match the manifest's seal")
        )
    elif raw != manifest_bytes(manifest):
        result.problems.append(
            Problem(file=MANIFEST, message="bytes differ from the sealed manifest")
        )
    return manifest


def verify_export(directory: Path) -> VerifyResult:
    """Check every file of an export against its manifest; name what was changed."""
    result = VerifyResult(ok=False)
    manifest = _read_manifest(directory, result)
    if manifest is None:
        return result
    result.workflow_id = manifest.workflow_id
    result.timeline_head = manifest.timeline_head
    runs = {run.file: run for run in manifest.runs}
    listed = {digest.name for digest in manifest.files} | {MANIFEST}
    for digest in manifest.files:
        path = directory / digest.name
        if not path.is_file():
            result.problems.append(Problem(file=digest.name, message="missing"))
            continue
        raw = path.read_bytes()
        result.checked.append(digest.name)
        if sha256_hex(raw) == digest.sha256 and len(raw) == digest.size:
            continue
        text = raw.decode("utf-8", errors="replace")
        if digest.name == TIMELINE:
            result.problems.append(_locate_timeline(text, manifest))
        elif digest.name in runs:
            result.problems.append(_locate_history(digest.name, text, runs[digest.name]))
        else:
            result.problems.append(Problem(file=digest.name, message="SHA-256 does not match"))
    for path in sorted(directory.iterdir()):
        if path.name not in listed:
            result.problems.append(Problem(file=path.name, message="not listed in the manifest"))
    result.ok = not result.problems
    return result
