"""Wave-2 case actions (DESIGN §2): an operator's logged call, visit slots offered and
answered, change requests an operator raises and a supervisor decides, and repeat overdue
details. Each goes through the same update path as every other action (``cases._act``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.openapi.models import Example
from pydantic import Field

from api.auth import Action
from api.deps import StateDep, TemporalClientDep
from api.routes.cases import _ACTION_ERRORS, IdempotencyKey, LoanId, _act, _actor
from api.schemas import CaseOut, _ActionBody, to_input
from models import case as c
from models.common import Actor

router = APIRouter(prefix="/v1/cases", tags=["cases"])

EXAMPLES: dict[str, dict[str, Example]] = {
    "contact": {
        "no_answer": Example(summary="Called, no answer", value={"outcome": "no_answer"}),
        "promise": Example(
            summary="Reached her; she promised to pay",
            value={
                "outcome": "promise",
                "notes": "pays on Friday after her salary",
                "promise": {"amount": "500.00", "due_in_days": 3},
            },
        ),
    },
    "slots": {
        "three": Example(
            summary="Offer three times",
            value={"slots": ["2026-12-08T10:00:00+08:00", "2026-12-09T15:00:00+08:00"]},
        )
    },
    "answer": {
        "accept": Example(
            summary="The borrower takes the second slot",
            value={"answer": "accept", "slot": "2026-12-09T15:00:00+08:00"},
        ),
        "propose": Example(
            summary="The borrower proposes another time",
            value={"answer": "propose", "slot": "2026-12-10T18:30:00+08:00"},
        ),
    },
    "request": {
        "correction": Example(
            summary="The fee was waived: ask for a corrected amount",
            value={
                "kind": "amount_correction",
                "corrected_amount": "1400.00",
                "reason": "late fee waived by branch",
            },
        ),
        "close": Example(
            summary="Ask to close: borrower deceased",
            value={"kind": "close", "close_reason": "deceased", "reason": "family called"},
        ),
    },
    "decision": {
        "approve": Example(summary="Approve", value={"approve": True, "notes": "receipt seen"})
    },
}


class ContactBody(_ActionBody, c.ManualContactInput):
    """A call (or message) an operator made by hand; the caps count it like the machine's."""


class OfferSlotsBody(_ActionBody, c.OfferSlotsInput):
    pass


class VisitAnswerBody(_ActionBody, c.VisitAnswerInput):
    pass


class ChangeRequestBody(_ActionBody, c.ChangeRequestInput):
    pass


class DecisionBody(_ActionBody):
    approve: bool
    notes: str = Field(default="", max_length=2000)


@router.post(
    "/{loan_id}/contacts",
    response_model=CaseOut,
    summary="Log a call an operator made",
    responses=_ACTION_ERRORS,
)
async def log_contact(
    loan_id: LoanId,
    body: Annotated[ContactBody, Body(openapi_examples=EXAMPLES["contact"])],
    actor: Annotated[Actor, _actor(Action.MANUAL_CONTACT)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Outcome, notes and an optional promise. Refused (409, with the rule) when the contact
    rules would not have allowed the call then: hours, caps, opt-out, cease-contact.
    Roles: operator, supervisor."""
    inp = to_input(body, c.ManualContactInput, actor)
    return await _act(
        state, client, loan_id, Action.MANUAL_CONTACT, c.UPDATE_MANUAL_CONTACT, inp,
        idempotency_key,
    )  # fmt: skip


@router.post(
    "/{loan_id}/visits/slots",
    response_model=CaseOut,
    summary="Offer the borrower visit slots",
    responses=_ACTION_ERRORS,
)
async def offer_slots(
    loan_id: LoanId,
    body: Annotated[OfferSlotsBody, Body(openapi_examples=EXAMPLES["slots"])],
    actor: Annotated[Actor, _actor(Action.OFFER_SLOTS)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Up to five times inside the contact hours; the borrower is told of them by SMS."""
    inp = to_input(body, c.OfferSlotsInput, actor)
    return await _act(
        state, client, loan_id, Action.OFFER_SLOTS, c.UPDATE_OFFER_SLOTS, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/visits/answer",
    response_model=CaseOut,
    summary="The borrower's answer to the visit slots",
    responses=_ACTION_ERRORS,
)
async def visit_answer(
    loan_id: LoanId,
    body: Annotated[VisitAnswerBody, Body(openapi_examples=EXAMPLES["answer"])],
    actor: Annotated[Actor, _actor(Action.VISIT_ANSWER)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Accept an offered slot, propose another time, or ask to reschedule."""
    inp = to_input(body, c.VisitAnswerInput, actor)
    return await _act(
        state, client, loan_id, Action.VISIT_ANSWER, c.UPDATE_VISIT_ANSWER, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/requests",
    response_model=CaseOut,
    summary="Ask a supervisor to correct the amount or close the case",
    responses=_ACTION_ERRORS,
)
async def request_change(
    loan_id: LoanId,
    body: Annotated[ChangeRequestBody, Body(openapi_examples=EXAMPLES["request"])],
    actor: Annotated[Actor, _actor(Action.REQUEST_CHANGE)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Nothing changes until a supervisor approves. Roles: operator, supervisor."""
    inp = to_input(body, c.ChangeRequestInput, actor)
    return await _act(
        state, client, loan_id, Action.REQUEST_CHANGE, c.UPDATE_REQUEST_CHANGE, inp,
        idempotency_key,
    )  # fmt: skip


@router.post(
    "/{loan_id}/requests/{request_no}/decision",
    response_model=CaseOut,
    summary="Approve or decline a change request",
    responses=_ACTION_ERRORS,
)
async def decide_request(
    loan_id: LoanId,
    request_no: Annotated[int, Path(ge=1, le=100_000)],
    body: Annotated[DecisionBody, Body(openapi_examples=EXAMPLES["decision"])],
    actor: Annotated[Actor, _actor(Action.DECIDE_REQUEST)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Role: supervisor."""
    inp = c.DecideRequestInput(
        request_no=request_no, approve=body.approve, notes=body.notes, actor=actor
    )
    return await _act(
        state, client, loan_id, Action.DECIDE_REQUEST, c.UPDATE_DECIDE_REQUEST, inp,
        idempotency_key,
    )  # fmt: skip
