"""Every case action by name, and ``allowed_actions``: what an actor may do now, with the
refusal sentence for each action refused (the console draws its buttons from it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.actions import ACTIONS, ActionName, Kind
from models.common import Actor
from workflows.core.actions import contact, dispute, escalation, money, negotiation, visit
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal

CASE_ACTIONS: dict[ActionName, ActionDef[Any]] = {
    a.name: a
    for a in (
        money.Payment(),
        money.AmountUpdate(),
        money.OverdueUpdate(),
        money.RequestChange(),
        money.DecideRequest(),
        visit.OfferSlots(),
        visit.VisitAnswer(),
        visit.ScheduleVisit(),
        visit.VisitOutcome(),
        negotiation.Negotiation(),
        negotiation.Hardship(),
        dispute.Dispute(),
        dispute.CeaseContact(),
        contact.ManualContact(),
        contact.AddNote(),
        contact.ChannelPreference(),
        contact.InboundMessage(),
        contact.IvrResponse(),
        contact.ContactStatus(),
        escalation.Escalation(),
        escalation.Close(),
        escalation.Reassign(),
    )
}


@dataclass(frozen=True)
class Allowed:
    action: ActionName
    allowed: bool
    code: str = ""
    sentence_en: str = ""
    sentence_zh: str = ""


def allowed_actions(case: Case, actor: Actor, now: datetime) -> list[Allowed]:
    """Each update a person may take on a case, allowed or refused with why."""
    out = []
    for name, action in CASE_ACTIONS.items():
        if ACTIONS[name].kind is not Kind.UPDATE:
            continue
        try:
            action.available(case, actor, now)
        except Refusal as refusal:
            out.append(Allowed(name, False, refusal.code, refusal.en, refusal.zh))
        else:
            out.append(Allowed(name, True))
    return out
