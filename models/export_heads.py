"""Timeline heads recorded at export: the app database's own word on what was exported.

An export's manifest is sealed by hashes anyone can recompute, and signed with a key that may
one day leak; this row, written when the export is made, is a third witness. ``audit verify
--database-url`` refuses a bundle whose timeline head was never recorded for its case, so an
edited history that was re-chained, re-sealed and even re-signed is still caught.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import AwareDatetime
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class ExportHead(SQLModel, table=True):
    __tablename__ = "export_heads"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "timeline_head", "manifest_seal"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=80, index=True)
    timeline_head: str = Field(max_length=64)
    manifest_seal: str = Field(max_length=64)
    key_id: str = Field(default="", max_length=64, description="the signing key's id; '' unsigned")
    exported_at: AwareDatetime
    recorded_at: AwareDatetime = Field(default_factory=_now)
