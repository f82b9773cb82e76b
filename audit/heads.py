"""The app database's record of exports (``export_heads``), and which signing key exports use.

Every export, by the CLI or the API, records its case, timeline head and manifest seal; ``audit
verify --database-url`` reads them back. Outside development an export refuses to start
without ``COLLECTFLOW_EXPORT_SIGNING_KEY``; in development the key is made under the data
directory the first time it is needed.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from activities.db import Database
from audit.export import Manifest
from audit.signing import ensure_key, key_id, load_private_key
from models.export_heads import ExportHead
from models.settings import Settings

DEV_KEY_NAME = "export-signing-key.pem"


class ExportRefused(Exception):
    """An export that may not start or could not be recorded; the message says why."""


def signing_key_path(settings: Settings) -> Path | None:
    if settings.export_signing_key is not None:
        return settings.export_signing_key
    return settings.data_dir / DEV_KEY_NAME if settings.allows_demo else None


def export_key(settings: Settings) -> Ed25519PrivateKey:
    """The signing key for exports, or :class:`ExportRefused` naming the setting."""
    path = signing_key_path(settings)
    if path is None:
        raise ExportRefused(
            f"COLLECTFLOW_EXPORT_SIGNING_KEY is not set; exports outside development are signed "
            f"(COLLECTFLOW_ENV={settings.env}): make a key with `collectflow audit keygen FILE`"
        )
    if settings.export_signing_key is None:  # development: made on first use
        return ensure_key(path)
    if not path.is_file():
        raise ExportRefused(f"COLLECTFLOW_EXPORT_SIGNING_KEY names {path}, which does not exist")
    try:
        return load_private_key(path)
    except ValueError as exc:
        raise ExportRefused(f"COLLECTFLOW_EXPORT_SIGNING_KEY: {exc}") from exc


async def record_head(db: Database, manifest: Manifest, key: Ed25519PrivateKey | None) -> None:
    row = ExportHead(
        workflow_id=manifest.workflow_id,
        timeline_head=manifest.timeline_head,
        manifest_seal=manifest.seal,
        key_id=key_id(key.public_key()) if key is not None else "",
        exported_at=manifest.exported_at,
    )
    try:
        async with db.session() as session:
            session.add(row)
            await session.commit()
    except SQLAlchemyError as exc:
        raise ExportRefused(f"the export's head could not be recorded: {exc}") from exc


async def recorded_heads(db: Database, workflow_id: str) -> set[str]:
    statement = select(ExportHead.timeline_head).where(ExportHead.workflow_id == workflow_id)
    async with db.session() as session:
        return set((await session.exec(statement)).all())
