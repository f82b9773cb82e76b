"""Verifying an export: every file against the manifest, the manifest against its seal, its
signature (with the public key alone) and, given the app database's record, its timeline head.

:func:`verify_export` names the file and, where it can, the first entry or history event whose
link breaks. Names in the manifest are only followed when they are plain names inside the
bundle: ``../``, absolute paths and folders are refused, never opened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from temporalio.client import WorkflowHistory

from audit.export import (
    GENESIS,
    MANIFEST,
    TIMELINE,
    ChainLink,
    Manifest,
    Problem,
    RunRecord,
    VerifyResult,
    _seal,
    chain,
    manifest_bytes,
    sha256_hex,
)
from audit.signing import SIGNATURE, check_signature

SEAL_BROKEN = "contents do not match the manifest's seal"


def load_export(directory: Path) -> tuple[Manifest, list[WorkflowHistory]]:
    """The manifest and the runs' histories of an export, first run first (not verified)."""
    manifest = Manifest.model_validate_json((directory / MANIFEST).read_bytes())
    for run in manifest.runs:
        if (reason := unsafe_name(run.file)) is not None:
            raise ValueError(f"manifest names {run.file!r}: {reason}")
    histories = [
        WorkflowHistory.from_json(manifest.workflow_id, (directory / run.file).read_text("utf-8"))
        for run in manifest.runs
    ]
    return manifest, histories


def unsafe_name(name: str) -> str | None:
    """Why a manifest's file name may not be followed, or None: only plain names inside the
    bundle, never ``../``, an absolute path, a folder or a drive."""
    if not name or name in (".", "..") or "\x00" in name:
        return "not a file name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path, outside the bundle"
    if "/" in name or "\\" in name:
        return "a path, not a plain name inside the bundle" + (
            " (it climbs out with ..)" if ".." in name.replace("\\", "/").split("/") else ""
        )
    if name in (MANIFEST, SIGNATURE):
        return "the name of the bundle's own manifest or signature"
    return None


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
        result.problems.append(Problem(file=MANIFEST, message=SEAL_BROKEN))
    elif raw != manifest_bytes(manifest):
        result.problems.append(
            Problem(file=MANIFEST, message="bytes differ from the sealed manifest")
        )
    return manifest


def _signature_problem(directory: Path, public_key: Ed25519PublicKey) -> Problem | None:
    path = directory / SIGNATURE
    if not path.is_file():
        return Problem(file=SIGNATURE, message="missing: the bundle is not signed")
    reason = check_signature((directory / MANIFEST).read_bytes(), path.read_bytes(), public_key)
    return None if reason is None else Problem(file=SIGNATURE, message=reason)


def _head_problems(manifest: Manifest, recorded_heads: Collection[str] | None) -> list[Problem]:
    problems = []
    chained = manifest.timeline_chain[-1].hash if manifest.timeline_chain else GENESIS
    if manifest.timeline_head != chained:
        problems.append(
            Problem(file=MANIFEST, message="timeline_head is not the chain's last link")
        )
    if recorded_heads is not None and manifest.timeline_head not in recorded_heads:
        problems.append(
            Problem(
                file=MANIFEST,
                message=f"timeline head {manifest.timeline_head} was never recorded in the "
                f"database for {manifest.workflow_id} ({len(recorded_heads)} export(s) "
                "recorded): the bundle was not made by an export, or was re-sealed",
            )
        )
    return problems


def verify_export(
    directory: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    recorded_heads: Collection[str] | None = None,
) -> VerifyResult:
    """Check every file of an export against its manifest; name what was changed.

    With ``public_key`` the manifest must carry a valid signature by it; with
    ``recorded_heads`` (the app database's heads for this case) its timeline head must be one.
    File names that would leave the bundle are refused, never opened.
    """
    result = VerifyResult(ok=False)
    manifest = _read_manifest(directory, result)
    if manifest is None:
        return result
    result.workflow_id = manifest.workflow_id
    result.timeline_head = manifest.timeline_head
    if public_key is not None and (problem := _signature_problem(directory, public_key)):
        result.problems.append(problem)
    result.problems.extend(_head_problems(manifest, recorded_heads))
    if any(p.file == MANIFEST and p.message == SEAL_BROKEN for p in result.problems):
        # A manifest that fails its own seal vouches for nothing: checking the files against
        # its (changed) listing would name files nobody touched.
        return result
    runs = {run.file: run for run in manifest.runs}
    listed = {digest.name for digest in manifest.files} | {MANIFEST, SIGNATURE}
    for name in sorted(set(runs) - {digest.name for digest in manifest.files}):
        reason = unsafe_name(name)
        message = f"refused: {reason}" if reason else "a run's history is not among the files"
        result.problems.append(Problem(file=name, message=message))
    for digest in manifest.files:
        if (reason := unsafe_name(digest.name)) is not None:
            result.problems.append(Problem(file=digest.name, message=f"refused: {reason}"))
            continue
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
