"""The borrower vault's tables (DESIGN §10): data keys, sealed free text, the do-not-contact
register and the erasure record. The sealed personal fields live on ``borrowers`` itself.

Nothing here holds personal data in clear: ciphertext under the borrower's data key, keyed
phone fingerprints (HMAC), ids, times and actors.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import AwareDatetime
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class BorrowerKey(SQLModel, table=True):
    """One data key per borrower, wrapped by a key-encryption key; deleting it erases them."""

    __tablename__ = "borrower_keys"

    borrower_id: str = Field(primary_key=True, max_length=64)
    kek_id: str = Field(max_length=64, index=True)
    wrapped_key: str = Field(max_length=200)
    created_at: AwareDatetime = Field(default_factory=_now)
    rotated_at: AwareDatetime | None = None


class SealedText(SQLModel, table=True):
    """Free text that may hold personal data (notes, inbound SMS, hardship, dispute and visit
    notes): sealed under the borrower's key; the workflow carries only ``text:<id>``."""

    __tablename__ = "sealed_texts"

    id: str = Field(primary_key=True, max_length=40)
    borrower_id: str = Field(max_length=64, index=True)
    case_id: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=32)
    sealed: str | None = None  # None once erased
    created_at: AwareDatetime = Field(default_factory=_now)


class DoNotContact(SQLModel, table=True):
    """An opt-out by phone fingerprint and channel: outlives cases and erasure."""

    __tablename__ = "do_not_contact"
    __table_args__ = (sa.UniqueConstraint("phone_hmac", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    phone_hmac: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=8)
    reason: str = Field(max_length=64)
    source: str = Field(max_length=80)  # the case or the API actor that recorded it
    created_at: AwareDatetime = Field(default_factory=_now)


class Erasure(SQLModel, table=True):
    """Who erased which borrower when: the record keeps no personal data."""

    __tablename__ = "erasures"

    id: int | None = Field(default=None, primary_key=True)
    borrower_id: str = Field(max_length=64, index=True)
    actor: str = Field(max_length=64)
    erased_at: AwareDatetime = Field(default_factory=_now)
    cases: int = 0
    texts: int = 0
    contacts: int = 0
