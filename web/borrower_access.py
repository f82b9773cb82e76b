"""Who may see a borrower's page: the link (valid, not revoked, not expired, case open), the
confirmation (a one-time code texted to the borrower, or the year of birth) and its lockout.

Pure rules take time as an argument; the SQL writes are here too, each one small. Opening a
link writes nothing: SMS apps prefetch links, so only a form the borrower submits changes a row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlmodel import col, select

from activities.db import Database
from activities.links import find
from activities.vault.store import Vault
from models.strategy import BorrowerPageRules
from models.tables import Borrower, BorrowerLink, Loan

log = structlog.get_logger(__name__)

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
CODE_DIGITS = 6
RESEND_AFTER = timedelta(seconds=60)
MAX_LOCK = timedelta(days=1)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LinkState:
    link: BorrowerLink
    borrower: Borrower | None


def expired(link: BorrowerLink, rules: BorrowerPageRules, now: datetime) -> bool:
    return now >= aware(link.created_at) + timedelta(days=rules.link_valid_days)


def locked(link: BorrowerLink, now: datetime) -> bool:
    return link.locked_until is not None and now < aware(link.locked_until)


def lock_length(rules: BorrowerPageRules, locks: int) -> timedelta:
    """The ``locks``-th lock: the strategy's minutes, doubled for each earlier lock."""
    duration: timedelta = timedelta(minutes=rules.lock_minutes) * (2 ** min(locks - 1, 10))
    return min(duration, MAX_LOCK)


def may_send_code(link: BorrowerLink, rules: BorrowerPageRules, now: datetime) -> bool:
    if link.codes_sent >= rules.max_codes_per_link:
        return False
    return link.code_sent_at is None or now >= aware(link.code_sent_at) + RESEND_AFTER


def code_digest(secret: str, link_id: int, code: str) -> str:
    message = f"borrower code\x00{link_id}\x00{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_matches(
    link: BorrowerLink, secret: str, rules: BorrowerPageRules, code: str, now: datetime
) -> bool:
    if link.code_hash is None or link.code_sent_at is None or link.id is None:
        return False
    if now >= aware(link.code_sent_at) + timedelta(minutes=rules.code_valid_minutes):
        return False
    return hmac.compare_digest(link.code_hash, code_digest(secret, link.id, code.strip()))


def year_matches(borrower: Borrower | None, answer: str) -> bool:
    return (
        borrower is not None
        and borrower.birth_year is not None
        and answer.strip() == str(borrower.birth_year)
    )


async def lookup(db: Database, token: str, vault: Vault | None = None) -> LinkState | None:
    """The link a token names with its borrower; None for anything that is not a live link."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    link = await find(db, token)
    if link is None or link.revoked_at is not None:
        return None
    async with db.session() as session:
        borrower = (
            await session.exec(
                select(Borrower)
                .join(Loan, col(Loan.borrower_id) == col(Borrower.id))
                .where(Loan.loan_id == link.loan_id)
            )
        ).first()
    if vault is not None and borrower is not None:  # DESIGN §10: the phone, the year of birth
        borrower = await vault.opened(borrower)
    return LinkState(link, borrower)


async def _save(db: Database, link_id: int, **values: object) -> BorrowerLink | None:
    async with db.session() as session:
        row = await session.get(BorrowerLink, link_id)
        if row is None:
            return None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


async def store_code(db: Database, link: BorrowerLink, digest: str, now: datetime) -> None:
    assert link.id is not None  # a stored row
    await _save(db, link.id, code_hash=digest, code_sent_at=now, codes_sent=link.codes_sent + 1)


async def record_failure(
    db: Database, link: BorrowerLink, rules: BorrowerPageRules, now: datetime
) -> bool:
    """One more wrong answer; True when it locked the link (an operator is alerted)."""
    assert link.id is not None
    tries = link.failed_tries + 1
    if tries < rules.max_wrong_tries:
        await _save(db, link.id, failed_tries=tries)
        return False
    locks = link.locks + 1
    until = now + lock_length(rules, locks)
    await _save(db, link.id, failed_tries=0, locks=locks, locked_until=until, code_hash=None)
    # The operators' alerting picks up warnings like the workflow's supervisor alerts; the
    # case id is enough to find the case, and nothing personal is in the line.
    log.warning(
        "operator alert",
        kind="borrower_page_locked",
        case_id=link.case_id,
        loan_id=link.loan_id,
        locks=locks,
        until=until.isoformat(),
        message=f"The borrower's page for {link.case_id} is locked after {rules.max_wrong_tries} "
        "wrong answers; the borrower may call for help or ask for a new link.",
    )
    return True


async def confirm(db: Database, link: BorrowerLink, now: datetime) -> BorrowerLink | None:
    assert link.id is not None
    return await _save(db, link.id, confirmed_at=now, failed_tries=0, code_hash=None)


def session_value(link: BorrowerLink) -> str:
    confirmed = aware(link.confirmed_at).timestamp() if link.confirmed_at else 0
    return f"{link.id}|{confirmed:.6f}"


def session_valid(
    link: BorrowerLink, value: str | None, rules: BorrowerPageRules, now: datetime
) -> bool:
    """The cookie names this link's latest confirmation, still within the session's length."""
    if value is None or link.confirmed_at is None:
        return False
    if not hmac.compare_digest(value, session_value(link)):
        return False
    return now < aware(link.confirmed_at) + timedelta(minutes=rules.session_minutes)
