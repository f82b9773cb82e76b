"""Evidence from a visit (a photo or a voice recording), stored by its content, sealed.

The file's SHA-256 is its name, so the same photo sent twice is one file, and the hash recorded
on the case (a note through the ``notes`` update, as the API adds one) proves which bytes were
shown. The bytes are sealed under the borrower's key (``activities/vault/files.py``): erasure
makes them unreadable. The type is judged by the file's first bytes, not by the name or the
browser's claim; anything else, or anything too large, is a 4xx with a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import UploadFile

from activities.vault import files
from activities.vault.store import Vault

MAX_BYTES = 8 * 1024 * 1024  # a phone photo or a few minutes of compressed audio
CHUNK = 64 * 1024


class EvidenceError(ValueError):
    def __init__(self, status: int, key: str, **params: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key  # catalogue key of the sentence
        self.params = params


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    kind: str  # "photo" or "audio"
    media_type: str
    path: Path


def sniff(head: bytes) -> tuple[str, str, str] | None:
    """(kind, media type, extension) from the file's magic bytes; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "photo", "image/jpeg", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "photo", "image/png", "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "photo", "image/webp", "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1"):
        return "photo", "image/heic", "heic"
    if head[4:8] == b"ftyp":
        return "audio", "audio/mp4", "m4a"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav", "wav"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg", "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio", "audio/webm", "webm"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio", "audio/mpeg", "mp3"
    return None


@dataclass(frozen=True)
class Upload:
    data: bytes
    kind: str
    media_type: str
    ext: str


async def read_upload(upload: UploadFile) -> Upload:
    """Read the upload (at most MAX_BYTES) and judge its type: nothing is kept yet."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > MAX_BYTES:
            raise EvidenceError(413, "today.evidence_big", mb=str(MAX_BYTES // (1024 * 1024)))
        parts.append(chunk)
    if size == 0:
        raise EvidenceError(422, "today.evidence_empty")
    data = b"".join(parts)
    found = sniff(data[:16])
    if found is None:
        raise EvidenceError(415, "today.evidence_type")
    return Upload(data, *found)


async def keep(upload: Upload, data_dir: Path, vault: Vault, borrower_id: str) -> Stored:
    """Seal the upload under the borrower's key, named by its plain SHA-256."""
    sha, path = await files.seal_file(vault, data_dir, borrower_id, upload.data, upload.ext)
    return Stored(sha, len(upload.data), upload.kind, upload.media_type, path)


# What ``evidence_note`` writes, read back by the case page (web/exhibits.py).
NOTE_PATTERN = re.compile(
    r"evidence(?: from visit (?P<visit>\d+))?: (?P<kind>photo|audio) "
    r"(?P<media>[a-z]+/[a-z0-9.+-]+), (?P<size>\d+) bytes, sha256 (?P<sha>[0-9a-f]{64})"
)


def evidence_note(stored: Stored, visit_no: int | None) -> str:
    where = f" from visit {visit_no}" if visit_no else ""
    return (
        f"evidence{where}: {stored.kind} {stored.media_type}, {stored.size} bytes, "
        f"sha256 {stored.sha256}"
    )
