"""Cases: list and read them, their audit history, and the operator and system actions.

Every action is a workflow update carrying the caller's actor: the case's validator refuses
what does not fit its stage (409 with its sentence), and an accepted action answers the new
state. ``Idempotency-Key`` makes a retried action safe (Temporal runs an update id once per
run); a payment's ``payment_ref`` does the same by itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query
from temporalio.client import Client

from api import late_payments, metrics, vaulting
from api.amounts import check_places
from api.auth import Action
from api.case_ops import read_case, run_update
from api.deps import AppState, StateDep, TemporalClientDep, require
from api.errors import ApiError
from api.schemas import (
    EXAMPLES,
    CaseList,
    CaseOut,
    CeaseContactBody,
    CloseBody,
    DisputeBody,
    EscalationBody,
    HardshipBody,
    NegotiationBody,
    NoteBody,
    PaymentBody,
    ScheduleVisitBody,
    VisitOutcomeBody,
    to_input,
)
from api.strategies import NAME_PATTERN
from api.visibility import KEYWORD_PATTERN, cases_query, summary
from models import case as c
from models.common import Actor, Channel, Stage, case_id_for

router = APIRouter(prefix="/v1/cases", tags=["cases"])

LoanId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9._-]+$",
        max_length=64,
        description="the loan id; the case is case-{loan_id}",
        examples=["L-1001"],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,128}$",
        description="retrying with the same key never applies the action twice",
    ),
]

_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no case for this loan"},
    409: {
        "description": "the action does not fit the case now (the case's own sentence), "
        "or the case is closed (saying how it ended)"
    },
    422: {"description": "a field is invalid; each error names the field"},
    429: {"description": "too many actions in flight on this case; see Retry-After"},
    503: {"description": "Temporal or the case worker did not answer; see Retry-After"},
}


def case_out(view: c.CaseView, viewer: Actor) -> CaseOut:
    """The case as the viewer may act on it: ``allowed_actions`` for the viewer's role only."""
    allowed = {k: v for k, v in view.allowed_actions.items() if k == viewer.role.value}
    return CaseOut.model_validate({**view.model_dump(), "allowed_actions": allowed})


async def _vaulted(state: AppState, case_id: str, action: Action, inp: c.ActorAction) -> Any:
    """DESIGN §10: free text sealed, only its reference to the case; a cease-contact request
    on the do-not-contact register (it outlives the case and erasure)."""
    if state.database is None:
        return inp
    vault = vaulting.vault_for(state.database, state.settings)
    if isinstance(inp, c.CeaseContactInput):
        channels = [Channel.SMS, Channel.CALL]
        await vaulting.record_opt_out(vault, case_id, channels, "cease contact", inp.actor.id)
    return await vaulting.seal_free_text(vault, case_id, inp, action.value)


async def _opened(state: AppState, out: CaseOut) -> CaseOut:
    """Free text opened for the reader while the borrower's key exists (DESIGN §10)."""
    if state.database is None:
        return out
    return await vaulting.opened_model(vaulting.vault_for(state.database, state.settings), out)


def _actor(action: Action) -> Any:
    return Depends(require(action))


async def _act(
    state: AppState,
    client: Client,
    loan_id: str,
    action: Action,
    update: str,
    inp: c.ActorAction,
    update_id: str | None,
) -> CaseOut:
    await check_places(state, client, loan_id, inp)  # 422 before the case sees it
    inp = await _vaulted(state, case_id_for(loan_id), action, inp)
    try:
        view = await run_update(
            client,
            case_id_for(loan_id),
            update,
            inp,
            update_id=f"{action.value}:{update_id}" if update_id else None,
        )
    except ApiError as err:
        metrics.ACTIONS.labels(action.value, str(err.status_code)).inc()
        raise
    metrics.ACTIONS.labels(action.value, "200").inc()
    return await _opened(state, case_out(view, inp.actor))


# ---------------------------------------------------------------- reads


@router.get("", response_model=CaseList, summary="List cases by stage, region, agent, DPD")
async def list_cases(
    actor: Annotated[Actor, _actor(Action.LIST_CASES)],
    client: TemporalClientDep,
    stage: Annotated[Stage | None, Query(description="one stage")] = None,
    region: Annotated[str | None, Query(pattern=KEYWORD_PATTERN)] = None,
    agent: Annotated[
        str | None, Query(pattern=KEYWORD_PATTERN, description="an assigned field agent")
    ] = None,
    min_dpd: Annotated[int | None, Query(ge=0, le=100_000, description="days past due")] = None,
    strategy: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CaseList:
    """From Temporal visibility (the case search attributes), so it is eventually consistent:
    a case shows its new stage within about a second. Roles: operator, supervisor, auditor."""
    query = cases_query(stage=stage, region=region, agent=agent, min_dpd=min_dpd, strategy=strategy)
    cases = [summary(execution) async for execution in client.list_workflows(query, limit=limit)]
    return CaseList(cases=cases, query=query)


@router.get(
    "/{loan_id}",
    response_model=CaseOut,
    summary="The case state",
    responses={404: {"description": "no case for this loan"}},
)
async def get_case(
    loan_id: LoanId,
    actor: Annotated[Actor, _actor(Action.READ_CASE)],
    client: TemporalClientDep,
    state: StateDep,
) -> CaseOut:
    """The ``state`` query of an open case; the final state of a closed one, with any
    payment that came after it ended. Roles: operator, supervisor, auditor."""
    view = await late_payments.final_view(
        state.database,
        case_id_for(loan_id),
        await read_case(client, case_id_for(loan_id), actor.role),
    )
    return await _opened(state, case_out(view, actor))


@router.post(
    "/{loan_id}/payments",
    response_model=CaseOut,
    summary="Record a payment (idempotent by payment_ref)",
    responses=_ACTION_ERRORS,
)
async def record_payment(
    loan_id: LoanId,
    body: Annotated[PaymentBody, Body(openapi_examples=EXAMPLES["payment"])],
    actor: Annotated[Actor, _actor(Action.PAYMENT)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """A partial payment reduces the balance; full payment resolves the case. The same
    ``payment_ref`` is counted once however often it is sent. Roles: system, admin; a
    supervisor with a ``receipt_ref``."""
    inp = to_input(body, c.PaymentInput, actor)
    key = idempotency_key or f"ref:{body.payment_ref}"
    try:
        return await _act(state, client, loan_id, Action.PAYMENT, c.UPDATE_PAYMENT, inp, key)
    except ApiError as err:
        # Money is never refused: a payment for a finished case is stored and answered.
        if err.status_code != 409 or state.database is None:
            raise
        case_id = case_id_for(loan_id)
        view = await read_case(client, case_id)
        if not view.terminal:
            raise
        await late_payments.record(state.database, case_id, inp)
        final = await late_payments.final_view(state.database, case_id, view)
        return await _opened(state, case_out(final, actor))


@router.post(
    "/{loan_id}/visits",
    response_model=CaseOut,
    summary="Confirm (schedule) the field visit",
    responses=_ACTION_ERRORS,
)
async def schedule_visit(
    loan_id: LoanId,
    body: Annotated[ScheduleVisitBody, Body(openapi_examples=EXAMPLES["schedule_visit"])],
    actor: Annotated[Actor, _actor(Action.SCHEDULE_VISIT)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Stage visit only; at least two collectors, inside the borrower's contact hours.
    Roles: operator, supervisor."""
    inp = to_input(body, c.ScheduleVisitInput, actor)
    return await _act(
        state, client, loan_id, Action.SCHEDULE_VISIT, c.UPDATE_SCHEDULE_VISIT, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/visits/outcome",
    response_model=CaseOut,
    summary="Record the visit outcome",
    responses=_ACTION_ERRORS,
)
async def record_visit(
    loan_id: LoanId,
    body: Annotated[VisitOutcomeBody, Body(openapi_examples=EXAMPLES["visit_outcome"])],
    actor: Annotated[Actor, _actor(Action.VISIT_OUTCOME)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """met → negotiating; not_home → another visit; refused/moved/unsafe → escalated.
    Roles: operator, supervisor."""
    inp = to_input(body, c.RecordVisitInput, actor)
    return await _act(
        state, client, loan_id, Action.VISIT_OUTCOME, c.UPDATE_RECORD_VISIT, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/negotiation",
    response_model=CaseOut,
    summary="Record the negotiation result",
    responses=_ACTION_ERRORS,
)
async def record_negotiation(
    loan_id: LoanId,
    body: Annotated[NegotiationBody, Body(openapi_examples=EXAMPLES["negotiation"])],
    actor: Annotated[Actor, _actor(Action.NEGOTIATION)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Reason for default, ability to pay, and one result: promise, installment plan
    (checked against the strategy's bounds), hardship grace, dispute or refusal.
    Roles: operator, supervisor."""
    inp = to_input(body, c.NegotiationInput, actor)
    return await _act(
        state, client, loan_id, Action.NEGOTIATION, c.UPDATE_NEGOTIATION, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/hardship",
    response_model=CaseOut,
    summary="Pause contact for hardship",
    responses=_ACTION_ERRORS,
)
async def request_hardship(
    loan_id: LoanId,
    body: Annotated[HardshipBody, Body(openapi_examples=EXAMPLES["hardship"])],
    actor: Annotated[Actor, _actor(Action.HARDSHIP)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Capped by the strategy (days, and how many per case). Roles: operator, supervisor."""
    inp = to_input(body, c.HardshipInput, actor)
    return await _act(
        state, client, loan_id, Action.HARDSHIP, c.UPDATE_HARDSHIP, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/dispute",
    response_model=CaseOut,
    summary="Open or resolve a dispute",
    responses=_ACTION_ERRORS,
)
async def dispute(
    loan_id: LoanId,
    body: Annotated[DisputeBody, Body(openapi_examples=EXAMPLES["dispute"])],
    actor: Annotated[Actor, _actor(Action.DISPUTE)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """An open dispute pauses all contact until resolved. Roles: operator, supervisor."""
    inp = to_input(body, c.DisputeInput, actor)
    return await _act(
        state, client, loan_id, Action.DISPUTE, c.UPDATE_DISPUTE, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/notes", response_model=CaseOut, summary="Add a note", responses=_ACTION_ERRORS
)
async def add_note(
    loan_id: LoanId,
    body: Annotated[NoteBody, Body(openapi_examples=EXAMPLES["note"])],
    actor: Annotated[Actor, _actor(Action.NOTE)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Roles: operator, supervisor."""
    inp = to_input(body, c.NoteInput, actor)
    return await _act(state, client, loan_id, Action.NOTE, c.UPDATE_NOTE, inp, idempotency_key)


@router.post(
    "/{loan_id}/cease-contact",
    response_model=CaseOut,
    summary="Record a cease-contact request",
    responses=_ACTION_ERRORS,
)
async def cease_contact(
    loan_id: LoanId,
    body: Annotated[CeaseContactBody, Body(openapi_examples=EXAMPLES["cease_contact"])],
    actor: Annotated[Actor, _actor(Action.CEASE_CONTACT)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Honoured at once: no further reminders. Roles: operator, supervisor."""
    inp = to_input(body, c.CeaseContactInput, actor)
    return await _act(
        state, client, loan_id, Action.CEASE_CONTACT, c.UPDATE_CEASE_CONTACT, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/escalation",
    response_model=CaseOut,
    summary="Decide an escalated case",
    responses=_ACTION_ERRORS,
)
async def decide_escalation(
    loan_id: LoanId,
    body: Annotated[EscalationBody, Body(openapi_examples=EXAMPLES["escalation"])],
    actor: Annotated[Actor, _actor(Action.ESCALATION)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Another visit, a settlement offer, legal action (needs the strategy's minimum days past
    due) or write-off. Role: supervisor."""
    inp = to_input(body, c.EscalationInput, actor)
    return await _act(
        state, client, loan_id, Action.ESCALATION, c.UPDATE_ESCALATION, inp, idempotency_key
    )


@router.post(
    "/{loan_id}/close",
    response_model=CaseOut,
    summary="Close the case (deceased, bankruptcy, fraud, recalled)",
    responses=_ACTION_ERRORS,
)
async def close_case(
    loan_id: LoanId,
    body: Annotated[CloseBody, Body(openapi_examples=EXAMPLES["close"])],
    actor: Annotated[Actor, _actor(Action.CLOSE)],
    client: TemporalClientDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Stops all contact at once. Roles: system (recall, deceased, bankruptcy), supervisor;
    an operator requests a close for a supervisor to approve."""
    inp = to_input(body, c.CloseInput, actor)
    return await _act(state, client, loan_id, Action.CLOSE, c.UPDATE_CLOSE, inp, idempotency_key)
