"""The supervisors' escalation digest: one message listing every case awaiting a decision.

DESIGN §3 (lean history): escalated cases are not reminded one by one each day; each alerts on
entry and at its deadline, and this digest, produced on a schedule, lists the queue. It reads
the read model only. The decide-by time is the case's next action (``supervisor_decision``,
aimed at the deadline); once the deadline has passed the case aims that wait elsewhere (legal
eligibility), so a case whose ``escalation_overdue`` alert followed its latest escalation is
overdue, decided by when that alert fired.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlmodel import col, select

from activities.db import Database
from models import activities as act
from models.common import Stage
from models.tables import Case, CaseEvent, utc_now

log = structlog.get_logger(__name__)

DECISION = "supervisor_decision"
OVERDUE_ALERT = "escalation_overdue"


async def escalation_digest(db: Database, inp: act.DigestInput) -> act.EscalationDigest:
    as_of = inp.as_of or utc_now()
    async with db.session() as session:
        escalated = select(Case.case_id).where(Case.stage == Stage.ESCALATED)
        cases = list(await session.exec(select(Case).where(Case.stage == Stage.ESCALATED)))
        events = await session.exec(
            select(CaseEvent)
            .where(col(CaseEvent.case_id).in_(escalated))
            .where(col(CaseEvent.kind).in_(["stage", "alert"]))
            .order_by(col(CaseEvent.seq))
        )
        alerted: dict[str, datetime | None] = {}
        for e in events:  # in order: a later escalation clears an earlier deadline alert
            if e.kind == "stage" and e.stage is Stage.ESCALATED:
                alerted[e.case_id] = None
            elif e.kind == "alert" and e.details.get("alert") == OVERDUE_ALERT:
                alerted[e.case_id] = _aware(e.at)
    entries = [_entry(c, alerted.get(c.case_id), as_of) for c in cases]
    entries.sort(key=lambda e: (e.decide_by is None, e.decide_by or as_of, e.loan_id))
    digest = act.EscalationDigest(
        as_of=as_of,
        awaiting=len(entries),
        overdue=sum(e.overdue for e in entries),
        entries=entries[: inp.limit],
    )
    # Loan ids and times only: no borrower's name or number reaches the log.
    log.warning(
        "escalation digest",
        awaiting=digest.awaiting,
        overdue=digest.overdue,
        cases=[f"{e.loan_id} {_when(e.decide_by)}" for e in digest.entries],
    )
    return digest


def _entry(case: Case, alerted_at: datetime | None, as_of: datetime) -> act.DigestEntry:
    if alerted_at is not None:
        return act.DigestEntry(loan_id=case.loan_id, decide_by=alerted_at, overdue=True)
    at = case.next_action_at if case.next_action_kind == DECISION else None
    at = None if at is None else _aware(at)
    return act.DigestEntry(
        loan_id=case.loan_id, decide_by=at, overdue=at is not None and at < as_of
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _when(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "no decide-by"
