"""Visit evidence (a photo of the door, a recording) sealed under the borrower's key on disk.

A photo may show a face, a house number, a neighbour: it is the borrower's personal data like a
note is (DESIGN §10). The case records only the file's SHA-256 (of the plain bytes, so it
proves which photo was shown); the file is kept sealed under the borrower's data key in a
folder of its own, so erasure deletes the key, which makes every copy unreadable (backups too),
and the folder. The folder is named by a hash of the borrower id, never the id itself, so no
id from a request can walk the file system.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

from activities.vault import crypto
from activities.vault.store import Vault

SEALED_SUFFIX = ".sealed"


def borrower_folder(data_dir: Path, borrower_id: str) -> Path:
    return data_dir / "evidence" / hashlib.sha256(borrower_id.encode()).hexdigest()[:32]


def _purpose(sha256: str, borrower_id: str) -> str:
    return f"evidence:{sha256}:{borrower_id}"


def sealed_path(data_dir: Path, borrower_id: str, sha256: str, ext: str) -> Path:
    return borrower_folder(data_dir, borrower_id) / f"{sha256}.{ext}{SEALED_SUFFIX}"


async def seal_file(
    vault: Vault, data_dir: Path, borrower_id: str, data: bytes, ext: str
) -> tuple[str, Path]:
    """Seal ``data`` and write it under its plain SHA-256; (sha256, path). The same photo sent
    twice is one file."""
    sha = hashlib.sha256(data).hexdigest()
    async with vault.db.session() as session:
        dek = await vault.data_key(session, borrower_id, create=True)
        await session.commit()
    if dek is None:
        raise crypto.VaultError(f"no data key for borrower {borrower_id}")
    path = sealed_path(data_dir, borrower_id, sha, ext)
    sealed = crypto.seal_bytes(dek, data, _purpose(sha, borrower_id))
    await asyncio.to_thread(_write_once, path, sealed)
    return sha, path


async def open_file(vault: Vault, borrower_id: str, path: Path) -> bytes | None:
    """The plain bytes of a sealed evidence file; None once the borrower is erased."""
    async with vault.db.session() as session:
        dek = await vault.data_key(session, borrower_id, create=False)
    if dek is None:
        return None
    try:
        sealed = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return None
    sha = path.name.split(".", 1)[0]
    return crypto.open_bytes(dek, sealed, _purpose(sha, borrower_id))


def erase_files(data_dir: Path, borrower_id: str) -> int:
    """Delete the borrower's evidence folder; the number of files it held."""
    folder = borrower_folder(data_dir, borrower_id)
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.iterdir() if p.name.endswith(SEALED_SUFFIX))
    shutil.rmtree(folder)
    return count


def _write_once(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():  # content-addressed: the same plain bytes are there already
        return
    temporary = path.parent / f".{path.name}.{os.getpid()}.part"
    temporary.write_bytes(data)
    temporary.replace(path)
