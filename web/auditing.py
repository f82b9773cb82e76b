"""The auditor's reads: a case's whole timeline, its signed export as a zip, and verifying a
zip an auditor holds — the same code as ``collectflow audit export`` and ``audit verify``.

An export made here is signed and its head recorded exactly as the API's ``/export`` does
(``api.routes.history.sign_and_record``). Verifying unpacks the zip into a temporary folder
(names that would leave it are refused by ``verify_export`` itself, never opened) and checks
the signature against this deployment's key and the head against the recorded ones.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from api.deps import AppState
from api.errors import ApiError
from api.routes.history import sign_and_record
from audit.export import MANIFEST, Manifest, VerifyResult, build_export, manifest_bytes
from audit.heads import ExportRefused, export_key, recorded_heads
from audit.signing import SIGNATURE, signature_bytes
from audit.timeline import TimelineEntry, TooManyRuns, build_timeline, fetch_case_histories
from audit.verify import unsafe_name, verify_export
from models.common import case_id_for

MAX_ZIP_BYTES = 32 * 1024 * 1024
MAX_MEMBERS = 1000


async def whole_timeline(state: AppState, client: Client, loan_id: str) -> list[TimelineEntry]:
    try:
        histories = await fetch_case_histories(
            client, case_id_for(loan_id), max_runs=state.settings.history_max_runs
        )
    except TooManyRuns as exc:
        raise ApiError(413, f"{exc}; use `collectflow audit timeline`") from exc
    return build_timeline(histories)


async def export_zip(state: AppState, client: Client, loan_id: str) -> tuple[bytes, Manifest]:
    """The export bundle as a zip: unzip it and ``collectflow audit verify`` the folder."""
    histories = await fetch_case_histories(
        client, case_id_for(loan_id), max_runs=state.settings.history_max_runs
    )
    bundle = build_export(histories, build_timeline(histories))
    size = sum(len(data) for data in bundle.files.values())
    if size > state.settings.export_max_bytes:
        raise ApiError(413, f"the export is {size} bytes; use `collectflow audit export`")
    bundle = await sign_and_record(state, bundle)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in bundle.files.items():
            archive.writestr(name, data)
        archive.writestr(MANIFEST, manifest_bytes(bundle.manifest))
        if bundle.signature is not None:
            archive.writestr(SIGNATURE, signature_bytes(bundle.signature))
    return buffer.getvalue(), bundle.manifest


class NotAnExport(ValueError):
    """The upload is not a zip of an export (the sentence says why)."""


def _unpack(data: bytes, into: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise NotAnExport("the file is not a zip archive") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise NotAnExport(f"the zip holds more than {MAX_MEMBERS} files")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise NotAnExport("the zip unpacks to more than 32 MB")
        for member in members:
            if member.is_dir():
                continue
            reason = (
                None if member.filename in (MANIFEST, SIGNATURE) else unsafe_name(member.filename)
            )
            if reason is not None:
                raise NotAnExport(f"refused: {member.filename!r} is {reason}")
            (into / member.filename).write_bytes(archive.read(member))


@dataclass(frozen=True)
class Verdict:
    result: VerifyResult
    signature_checked: bool
    head_checked: bool


async def verify_zip(state: AppState, data: bytes) -> Verdict:
    """Verify an export zip: files against the manifest, signature, recorded head."""
    try:
        public = export_key(state.settings).public_key()
    except ExportRefused:
        public = None  # no key here: the result says the signature was not checked
    with tempfile.TemporaryDirectory(prefix="cf-verify-") as folder:
        directory = Path(folder)
        _unpack(data, directory)
        heads = None
        if state.database is not None and (directory / MANIFEST).is_file():
            try:
                manifest = Manifest.model_validate_json((directory / MANIFEST).read_bytes())
                heads = await recorded_heads(state.database, manifest.workflow_id)
            except ValueError:
                heads = None  # verify names the unreadable manifest itself
        result = verify_export(directory, public_key=public, recorded_heads=heads)
    return Verdict(result, public is not None, heads is not None)
