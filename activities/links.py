"""Links to the borrower's own page (``/b/{token}``): minted by the SMS send, looked up by the
page. See ``models.tables.BorrowerLink`` for what is stored and why.

A token is 22 URL-safe characters (128 bits): short enough that an SMS with a long name and the
link stays within two segments (``models.strategy.LONGEST_LINK``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from activities.db import Database
from models.strategy import LINK_FIELD
from models.tables import BorrowerLink, utc_now

TOKEN_CHARS = 22
_PURPOSE = b"collectflow borrower link\x00"


def derive_token(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), _PURPOSE + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_CHARS]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/b/{token}"


async def mint(db: Database, secret: str, *, case_id: str, loan_id: str, contact_key: str) -> str:
    """The token of the link the SMS ``contact_key`` carries: the same one on every retry of
    that send; a new link revokes the case's earlier ones ("a newer link was sent")."""
    async with db.session() as session:
        found = (
            await session.exec(select(BorrowerLink).where(BorrowerLink.contact_key == contact_key))
        ).first()
        if found is not None:
            return derive_token(secret, found.nonce)
        nonce = secrets.token_hex(16)
        token = derive_token(secret, nonce)
        now = utc_now()
        await session.exec(
            update(BorrowerLink)
            .where(col(BorrowerLink.case_id) == case_id, col(BorrowerLink.revoked_at).is_(None))
            .values(revoked_at=now, revoked_reason="newer_link")
        )
        session.add(
            BorrowerLink(
                token_hash=token_hash(token),
                nonce=nonce,
                case_id=case_id,
                loan_id=loan_id,
                contact_key=contact_key,
                created_at=now,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # a concurrent retry of the same send won: use its link
            await session.rollback()
            return await mint(db, secret, case_id=case_id, loan_id=loan_id, contact_key=contact_key)
        return token


async def with_link(
    db: Database, secret: str, base_url: str, *, body: str, case_id: str, loan_id: str, key: str
) -> str:
    """The SMS text with ``{link}`` filled in; a text without the placeholder is unchanged."""
    if LINK_FIELD not in body:
        return body
    token = await mint(db, secret, case_id=case_id, loan_id=loan_id, contact_key=key)
    return body.replace(LINK_FIELD, link_url(base_url, token))


async def find(db: Database, token: str) -> BorrowerLink | None:
    async with db.session() as session:
        return (
            await session.exec(
                select(BorrowerLink).where(BorrowerLink.token_hash == token_hash(token))
            )
        ).first()


async def revoke(db: Database, link_id: int, reason: str, now: datetime) -> None:
    async with db.session() as session:
        await session.exec(
            update(BorrowerLink)
            .where(col(BorrowerLink.id) == link_id, col(BorrowerLink.revoked_at).is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        await session.commit()
