"""Payments and the amount owed: payments from the loan system (a supervisor's only with a
receipt), amounts changed only by the loan system or a supervisor, an operator's correction
or close as a request a supervisor decides, and repeat overdue events applied or refused whole."""

from __future__ import annotations

from datetime import datetime

from models import case as c
from models.actions import ActionName
from models.common import Actor, Channel, Role, Stage
from workflows.core.actions.base import ActionDef
from workflows.core.case import Case
from workflows.core.refusal import Refusal
from workflows.core.state import ChangeRequest


class Payment(ActionDef[c.PaymentInput]):
    name = ActionName.PAYMENT

    def check(self, case: Case, inp: c.PaymentInput, actor: Actor, now: datetime) -> None:
        if case.has_payment(inp.payment_ref):
            return  # the same payment again: accepted, counted once
        self.available(case, actor, now)
        if actor.role is Role.SUPERVISOR and not inp.receipt_ref:
            raise Refusal("receipt_needed")

    def run(self, case: Case, inp: c.PaymentInput, actor: Actor, now: datetime) -> None:
        case.record_payment(inp.model_copy(update={"actor": actor}), now)


class AmountUpdate(ActionDef[c.AmountUpdate]):
    name = ActionName.AMOUNT_UPDATE

    def run(self, case: Case, inp: c.AmountUpdate, actor: Actor, now: datetime) -> None:
        case.set_amount(inp.amount_overdue, actor, now, "the loan system's new figure")


class OverdueUpdate(ActionDef[c.OverdueUpdateInput]):
    """A repeat overdue event: new contact details, consent, zone and amount, or nothing."""

    name = ActionName.OVERDUE_UPDATE

    def check(self, case: Case, inp: c.OverdueUpdateInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        s = case.s
        if inp.currency != s.currency:
            raise Refusal("currency", got=inp.currency, currency=s.currency)
        if s.as_of is not None and inp.as_of is not None and inp.as_of < s.as_of:
            raise Refusal("stale", as_of=inp.as_of.isoformat(), known=s.as_of.isoformat())

    def run(self, case: Case, inp: c.OverdueUpdateInput, actor: Actor, now: datetime) -> None:
        s = case.s
        s.as_of = inp.as_of or s.as_of
        changed = []
        for field, label in (("phone", "phone"), ("timezone", "time zone"), ("region", "region")):
            new = getattr(inp, field)
            if field == "phone":  # since the vault, the fingerprint stands for the number
                new = inp.phone or inp.phone_ref
            if new and new != getattr(s, field):
                setattr(s, field, new)
                changed.append(label)
        for channel, given in ((Channel.SMS, inp.consent_sms), (Channel.CALL, inp.consent_call)):
            if given is not None and given != (channel in s.consent):
                s.consent = sorted({*s.consent, channel} if given else set(s.consent) - {channel})
                changed.append(f"{channel.value} consent")
        if changed:
            case.event("details", f"repeat overdue event: new {', '.join(changed)}", now, actor)
        case.set_amount(inp.amount_overdue, actor, now, "repeat overdue event")


class RequestChange(ActionDef[c.ChangeRequestInput]):
    name = ActionName.REQUEST_CHANGE

    def run(self, case: Case, inp: c.ChangeRequestInput, actor: Actor, now: datetime) -> None:
        no = len(case.s.requests) + 1
        case.s.requests.append(
            ChangeRequest(
                no=no,
                kind=inp.kind,
                by=actor,
                at=now,
                close_reason=inp.close_reason,
                corrected_amount=inp.corrected_amount,
                reason=inp.reason,
            )
        )
        case.event("request", f"request {no}: {inp.kind} awaits a supervisor", now, actor)


class DecideRequest(ActionDef[c.DecideRequestInput]):
    name = ActionName.DECIDE_REQUEST

    def _request(self, case: Case, no: int) -> ChangeRequest:
        found = next((r for r in case.s.requests if r.no == no and r.status == "pending"), None)
        if found is None:
            raise Refusal("no_request", no=str(no))
        return found

    def check(self, case: Case, inp: c.DecideRequestInput, actor: Actor, now: datetime) -> None:
        self.available(case, actor, now)
        self._request(case, inp.request_no)

    def run(self, case: Case, inp: c.DecideRequestInput, actor: Actor, now: datetime) -> None:
        request = self._request(case, inp.request_no)
        request.status = "approved" if inp.approve else "declined"
        case.event("request", f"request {request.no} {request.status}", now, actor)
        if not inp.approve:
            return
        if request.kind == "amount_correction" and request.corrected_amount is not None:
            why = f"correction requested by {request.by.id}, approved"
            case.set_amount(request.corrected_amount, actor, now, why)
        elif request.kind == "close" and request.close_reason is not None:
            why = f"{request.close_reason.value}: requested by {request.by.id}, approved"
            case.enter(Stage.CLOSED, why, now, actor)
