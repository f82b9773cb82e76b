"""Provider status callbacks, kept lean (DESIGN §3): every status goes to the contact ledger
here, and the case hears only the statuses that change what it may do next — a call that
connected (the quiet days and the connected-calls cap) and a message that never arrived.
"sent", "delivered", "ringing" and the like would each cost the case's history a signal and a
workflow task for nothing it decides on."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from activities.db import Database
from activities.projection import CALL_STATUS, SMS_STATUS
from api.store import StoreUnavailable
from models.common import Channel
from models.tables import AttemptStatus, ContactAttempt

SMS_THE_CASE_HEARS = frozenset({"undelivered", "failed"})


def case_hears(sid: str, word: str, duration: int | None) -> bool:
    """Whether a status is one the case acts on. Message ids start SM/MM, calls CA (Twilio)."""
    word = word.lower()
    if sid.startswith("CA"):
        return word == "completed" and (duration or 0) > 0
    return word in SMS_THE_CASE_HEARS


async def record_status(db: Database, sid: str, word: str, duration: int | None) -> bool:
    """Bring the ledger row for ``sid`` to the provider's status; False when there is none."""
    try:
        async with db.session() as session:
            row = (
                await session.exec(select(ContactAttempt).where(ContactAttempt.provider_sid == sid))
            ).first()
            if row is None:
                return False
            if row.status in (AttemptStatus.REJECTED, AttemptStatus.RECORDED):
                return True  # never sent, as far as the ledger knows: a status cannot revive it
            status = _status(row.channel, word.lower(), duration)
            if status is not None and status is not row.status:
                row.status = status
                session.add(row)
                await session.commit()
            return True
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc)) from exc


def _status(channel: Channel, word: str, duration: int | None) -> AttemptStatus | None:
    if channel is Channel.SMS:
        return SMS_STATUS.get(word)
    if word == "completed" and not duration:
        return AttemptStatus.UNANSWERED
    return CALL_STATUS.get(word)
