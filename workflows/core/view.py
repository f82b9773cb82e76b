"""The core's state as the contracts the rest of CollectFlow reads: the case view the API
answers, the read model's projection and its events. Pure: the shell passes ``now``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models import activities as act
from models import case as c
from models.common import SYSTEM_ACTOR, Actor, Role, Stage
from workflows.core import clock
from workflows.core import effects as fx
from workflows.core.actions.registry import allowed_actions
from workflows.core.case import Case
from workflows.core.state import Commitment
from workflows.core.timers import next_wait

K = act.CaseEventKind
KINDS: dict[str, act.CaseEventKind] = {
    "plan": K.NEGOTIATION,
    "kept": K.PROMISE,
    "broken": K.PROMISE,
    "callback": K.NOTE,
    "agents": K.NOTE,
    "receipt": K.CONTACT,
    "offer": K.HARDSHIP,  # a hardship_first treatment's grace or plan offer
}
VIEW_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.BORROWER, Role.SYSTEM)


KNOWN = frozenset(k.value for k in act.CaseEventKind)


def event_kind(kind: str) -> act.CaseEventKind | None:
    """The read model's kind for a core event; None for a kind nobody mapped (a bug the
    property test catches; the shell records such an event as a note rather than fail)."""
    if kind.startswith("archived"):
        return K.ARCHIVED
    if kind in KINDS:
        return KINDS[kind]
    return act.CaseEventKind(kind) if kind in KNOWN else None


def case_event(case: Case, event: fx.Event) -> act.CaseEvent:
    """Number the event (across runs) and name it as the read model and timeline do."""
    case.s.event_seq += 1
    details = dict(event.details)
    if "source" in details:  # stage moves: the read model's words are from/to
        details["from"], details["to"] = details.pop("source"), details.pop("target")
    if event_kind(event.kind) is None:
        details["core_kind"] = event.kind
    if event.kind == "callback":  # the worklist finds call-back requests by it
        details["kind"] = c.ManualContactOutcome.CALLBACK.value
    return act.CaseEvent(
        seq=case.s.event_seq,
        at=event.at,
        stage=case.s.stage,
        kind=event_kind(event.kind) or K.NOTE,
        actor=event.actor or SYSTEM_ACTOR,
        summary=event.summary,
        details=details,
    )


def _promise(item: Commitment) -> c.Promise:
    source = "negotiation" if item.kind == "promise" else item.kind
    assert source != "installment"
    return c.Promise(
        seq=item.no,
        due_at=item.due_at,
        due_date=item.due_date,
        amount=item.amount,
        source=source,
        status=item.status,
        paid_before=item.paid_before,
        reminded=item.reminded,
    )


def _plans(case: Case) -> list[c.InstallmentPlan]:
    plans: dict[int, list[Commitment]] = {}
    for item in case.s.commitments:
        if item.kind == "installment" and item.plan_no is not None:
            plans.setdefault(item.plan_no, []).append(item)
    out = []
    for no, items in sorted(plans.items()):
        first = items[0]
        out.append(
            c.InstallmentPlan(
                plan_no=no,
                frequency_days=first.every,
                total=sum((i.amount for i in items), start=Decimal("0")),
                paid_before=first.paid_before,
                created_at=first.agreed_at or first.due_at,
                installments=[
                    c.Installment(
                        index=i.index,
                        due_at=i.due_at,
                        due_date=i.due_date,
                        amount=i.amount,
                        status=i.status,
                        reminded=i.reminded,
                    )
                    for i in items
                ],
            )
        )
    return out


def _visits(case: Case) -> list[c.VisitRecord]:
    return [
        c.VisitRecord(
            visit_no=v.visit_no,
            proposed_at=v.accepted or (v.offered[0] if v.offered else v.opened_at),
            scheduled_at=v.scheduled_at,
            scheduled_by=v.scheduled_by,
            collectors=v.collectors,
            outcome=v.outcome,
            notes=v.notes,
            recorded_by=v.recorded_by,
            proposal_sent=v.proposal_sent,
            reminder_sent=v.reminder_sent,
            opened_at=v.opened_at,
            last_alert_at=v.alert_at,
            offered=v.offered,
            accepted=v.accepted,
            proposed_by_borrower=v.proposed_by_borrower,
        )
        for v in case.s.visits
    ]


def _contact_log(case: Case) -> list[c.ContactRecord]:
    return [
        c.ContactRecord(
            key=r.key,
            channel=r.channel,
            purpose=r.step,
            at=r.at,
            outcome=r.outcome,
            reason=r.reason,
            until=r.until,
            provider_sid=r.provider_sid,
            connected=r.connected,
        )
        for r in case.s.contacts
    ]


def next_action(case: Case, now: datetime) -> c.NextAction | None:
    if not case.open:
        return None
    wait = next_wait(case, now)
    return c.NextAction(kind=wait.reason, at=wait.until)


def _allowed(case: Case, now: datetime, only: str | None) -> dict[str, list[c.AllowedAction]]:
    out = {}
    for role in VIEW_ROLES:
        if only is not None and role.value != only:
            continue
        actor = Actor(id=f"any-{role.value}", role=role)
        out[role.value] = [
            c.AllowedAction(
                action=a.action.value,
                allowed=a.allowed,
                code=a.code,
                sentence_en=a.sentence_en,
                sentence_zh=a.sentence_zh,
            )
            for a in allowed_actions(case, actor, now)
        ]
    return out


def case_view(case: Case, now: datetime, role: str | None = None) -> c.CaseView:
    s, strategy = case.s, case.strategy
    plans = _plans(case)
    live = [p for p in plans if any(i.status == "pending" for i in p.installments)]
    plan = live[-1] if live else (plans[-1] if plans else None)
    view = c.CaseView(
        case_id=s.case_id,
        loan_id=s.loan_id,
        stage=s.stage,
        currency=s.currency,
        amount_overdue=s.amount_overdue,
        balance=s.balance,
        paid_total=s.paid_total,
        strategy=strategy.ref,
        opened_at=s.opened_at,
        due_date=s.due_date,
        days_past_due=clock.dpd(s, strategy, now),
        next_action=next_action(case, now),
        reminder_index=s.reminder_index,
        contact_log=_contact_log(case),
        payments=[
            c.PaymentRecord(
                payment_ref=p.payment_ref,
                amount=p.amount,
                paid_at=p.paid_at,
                recorded_at=p.recorded_at,
                actor=p.actor,
            )
            for p in s.payments
        ],
        promises=[_promise(i) for i in s.commitments if i.kind != "installment"],
        plan=plan,
        past_plans=[p for p in plans if p is not plan],
        visits=_visits(case),
        negotiations=[
            c.NegotiationRecord(
                seq=s.negotiations_count - len(s.negotiations) + n,
                at=r.at,
                actor=r.actor,
                reason=r.reason,
                monthly_income=r.monthly_income,
                essential_expenses=r.essential_expenses,
                result=r.result,
                details={"notes": r.notes} if r.notes else {},
            )
            for n, r in enumerate(s.negotiations, start=1)
        ],
        stage_history=[
            c.StageChange(at=m.at, stage=m.stage, reason=m.reason, actor=m.actor)
            for m in s.stage_history
        ],
        notes=[c.Note(at=n.at, actor=n.actor, text=n.text) for n in s.notes],
        assigned_agents=s.assigned_agents,
        opted_out=s.opted_out,
        cease_contact=s.cease_contact,
        dispute_open=s.dispute_open,
        hardship_until=s.hardship_until,
        graces_used=s.graces_used,
        broken_count=s.broken_count,
        callback_requested_at=s.callback_requested_at,
        settlement_amount=s.settlement_amount,
        terminal_reason=s.terminal_reason,
        legal_reference=s.legal_reference,
        run_number=s.run_number,
        event_seq=s.event_seq,
        alerts_sent=s.alerts_sent,
        handled_sids=s.handled_sids,
        region=s.region,
        terminal=s.stage.terminal,
        generation=s.generation,
        preferred_hours=[h for h in (s.hours_start, s.hours_end) if h is not None],
        refund_due=s.refund_due,
        late_payments=s.late_payments,
        requests=[
            c.ChangeRequestRecord(
                no=r.no,
                kind=r.kind,
                by=r.by,
                at=r.at,
                status=r.status,
                reason=r.reason,
                close_reason=r.close_reason.value if r.close_reason else None,
                corrected_amount=r.corrected_amount,
            )
            for r in s.requests
        ],
        allowed_actions=_allowed(case, now, role),
    )
    view.contact_counts_by_kind = view.contact_counts
    return view


def receipt(case: Case, now: datetime) -> c.UpdateReceipt:
    s = case.s
    return c.UpdateReceipt(
        stage=s.stage,
        balance=s.balance,
        refund_due=s.refund_due,
        next_action=next_action(case, now),
    )


def projection(
    case: Case,
    borrower_id: str,
    events: list[act.CaseEvent],
    now: datetime,
    history_length: int | None = None,
) -> act.CaseProjection:
    view = case_view(case, now, role="")  # the read model has no use for allowed_actions
    return act.CaseProjection(
        case_id=view.case_id,
        loan_id=view.loan_id,
        borrower_id=borrower_id,
        region=view.region,
        stage=view.stage,
        currency=view.currency,
        amount_overdue=view.amount_overdue,
        balance=view.balance,
        days_past_due=view.days_past_due,
        strategy=view.strategy,
        next_action=view.next_action,
        assigned_agents=view.assigned_agents,
        visits=view.visits,
        plan=view.plan,
        promises=view.promises,
        negotiations=view.negotiations,
        payments=view.payments,
        events=events,
        synced_at=now if history_length is not None else None,
        history_length=history_length,
    )


__all__ = ["Stage"]
