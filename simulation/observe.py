"""What the pure engine shows the behaviour models: an :class:`Observation` built from the
core's state (the Temporal engine builds the same one from the read model), and the core
action each of the behaviour models' actions names."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from models import case as c
from models.actions import ActionName, Kind, by_handler
from models.common import SYSTEM_ACTOR, Actor
from simulation.behaviour import Action, Observation
from simulation.model import CaseRecord
from workflows.core import treatments
from workflows.core.case import Case
from workflows.core.state import Commitment, Visit

# The workflow's update and signal names (what the behaviour models speak) -> the core's actions.
UPDATES = {handler: spec.name for handler, spec in by_handler(Kind.UPDATE).items()}
SIGNALS = {handler: spec.name for handler, spec in by_handler(Kind.SIGNAL).items()}

Status = Literal["pending", "kept", "broken"]
SOURCES: dict[str, Literal["negotiation", "ivr", "settlement"]] = {
    "promise": "negotiation",
    "ivr": "ivr",
    "settlement": "settlement",
}


def action_name(action: Action) -> ActionName:
    table = SIGNALS if action.signal else UPDATES
    return table[action.name]


def actor_of(action: Action) -> Actor:
    """Inputs of people's actions carry their actor; machine signals are the system's."""
    actor = getattr(action.arg, "actor", None)
    return actor if isinstance(actor, Actor) else SYSTEM_ACTOR


def _status(item: Commitment) -> Status:
    # "replaced": superseded by a newer agreement, no longer due; the models read it as done.
    return "broken" if item.status == "replaced" else item.status


def _visit(v: Visit) -> c.VisitRecord:
    return c.VisitRecord(
        visit_no=v.visit_no,
        proposed_at=v.offered[0] if v.offered else v.opened_at,
        scheduled_at=v.scheduled_at,
        collectors=list(v.collectors),
        outcome=v.outcome,
        proposal_sent=v.proposal_sent,
        reminder_sent=v.reminder_sent,
        opened_at=v.opened_at,
    )


def _plan(case: Case) -> c.InstallmentPlan | None:
    """The plan in force: the latest plan while one of its installments is still pending."""
    items = [i for i in case.s.commitments if i.kind == "installment"]
    if not items:
        return None
    latest = [i for i in items if i.plan_no == items[-1].plan_no]
    if not any(i.status == "pending" for i in latest):
        return None
    first = latest[0]
    return c.InstallmentPlan(
        plan_no=first.plan_no or 0,
        frequency_days=0,
        total=sum((i.amount for i in latest), start=first.amount * 0),
        paid_before=first.paid_before,
        created_at=case.s.stage_entered_at,
        installments=[
            c.Installment(
                index=i.index,
                due_at=i.due_at,
                due_date=i.due_date,
                amount=i.amount,
                status=_status(i),
                reminded=i.reminded,
            )
            for i in latest
        ],
    )


def _promises(case: Case) -> tuple[c.Promise, ...]:
    return tuple(
        c.Promise(
            seq=i.no,
            due_at=i.due_at,
            due_date=i.due_date,
            amount=i.amount,
            source=SOURCES[i.kind],
            status=_status(i),
            paid_before=i.paid_before,
            reminded=i.reminded,
        )
        for i in case.s.commitments
        if i.kind in SOURCES
    )


def observation(
    rec: CaseRecord, case: Case, day: int, now: datetime, tz: str, negotiations: int
) -> Observation:
    s = case.s
    return Observation(
        day=day,
        now=now,
        timezone=tz,
        due_date=rec.due_date,
        legal_min_dpd=rec.strategy.escalation.legal_min_dpd,
        stage=s.stage,
        balance=s.balance,
        amount_overdue=s.amount_overdue,
        paid_total=s.paid_total,
        sms_sent=rec.sms_sent,
        calls_sent=rec.calls_sent,
        contact_days=tuple(rec.contact_days),
        visits=tuple(_visit(v) for v in s.visits),
        plan=_plan(case),
        promises=_promises(case),
        negotiations=negotiations,
        broken=rec.broken,
        escalations=rec.escalations,
        done=rec.done,
        rules=treatments.rules_in_force(s, case.strategy),
        graces_used=s.graces_used,
    )
