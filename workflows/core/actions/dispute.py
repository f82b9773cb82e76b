"""Disputes and cease-contact. An open dispute pauses the case (clocks stop); resolving it
rejected resumes it shifted, upheld closes it, or corrects the amount (a supervisor's only)."""

from __future__ import annotations

from datetime import datetime

from models import case as c
from models.actions import ACTIONS, ActionName
from models.common import Actor, Role, Stage
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal


class Dispute(ActionDef[c.DisputeInput]):
    name = ActionName.DISPUTE

    def check(self, case: Case, inp: c.DisputeInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        if inp.action == "open":
            if case.s.dispute_open:
                raise Refusal("dispute_state", why="A dispute is already open on this case.")
            return
        if actor.role is Role.BORROWER:
            raise Refusal("borrower_open_only")
        if not case.s.dispute_open:
            raise Refusal("dispute_state", why="There is no open dispute to resolve.")
        if inp.resolution is None:
            raise Refusal("dispute_state", why="Resolving needs 'resolution': upheld or rejected.")
        amount_roles = ACTIONS[ActionName.AMOUNT_UPDATE].roles
        if inp.corrected_amount is not None and actor.role not in amount_roles:
            raise Refusal("amount_owner")

    def run(self, case: Case, inp: c.DisputeInput, actor: Actor, now: datetime) -> None:
        s = case.s
        if inp.action == "open":
            s.dispute_open = True
            case.begin_pause(now)
            case.event("dispute", f"dispute opened: {inp.reason or 'disputed'}", now, actor)
            return
        s.dispute_open = False
        s.dispute_closed_at = now
        case.event("dispute", f"dispute resolved ({inp.resolution})", now, actor)
        case.settle_time(now)
        if inp.resolution != "upheld":
            return
        if inp.corrected_amount is not None:
            case.set_amount(inp.corrected_amount, actor, now, "dispute upheld with a correction")
        else:
            case.enter(Stage.CLOSED, "dispute upheld: the debt is not owed", now, actor)


class CeaseContact(ActionDef[c.CeaseContactInput]):
    name = ActionName.CEASE_CONTACT

    def check(self, case: Case, inp: c.CeaseContactInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        if case.s.cease_contact:
            raise Refusal("already", what="Cease-contact")

    def run(self, case: Case, inp: c.CeaseContactInput, actor: Actor, now: datetime) -> None:
        case.s.cease_contact = True
        case.cancel_visit_slot("cease-contact", now)
        case.event("preference", f"cease-contact: {inp.reason or 'no reason given'}", now, actor)
