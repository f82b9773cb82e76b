"""The case's record for auditors: its timeline from Temporal history (paged), the raw
history, and the signed export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from temporalio.client import Client, WorkflowHistory

from api import vaulting
from api.auth import Action
from api.deps import AppState, StateDep, TemporalClientDep
from api.errors import ApiError
from api.routes.cases import LoanId, _actor
from api.schemas import (
    CaseExport,
    CaseHistory,
    TemporalHistory,
)
from audit.export import ExportBundle, build_export
from audit.heads import ExportRefused, export_key, record_head
from audit.timeline import TooManyRuns, build_timeline, fetch_case_histories
from models.common import Actor, case_id_for

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.get(
    "/{loan_id}/history",
    response_model=CaseHistory | TemporalHistory,
    summary="The audit timeline of the case (or its raw Temporal history)",
    responses={
        200: {
            "description": "the timeline (as `collectflow audit timeline --json`); with "
            "format=temporal the raw history of one run (WorkflowHistory.to_json)",
        },
        404: {"description": "no case for this loan (or no such run)"},
        413: {"description": "more runs or bytes than one request reads; use the CLI"},
    },
)
async def case_history(
    loan_id: LoanId,
    actor: Annotated[Actor, _actor(Action.READ_HISTORY)],
    client: TemporalClientDep,
    state: StateDep,
    format: Annotated[
        Literal["timeline", "temporal"],
        Query(description="timeline (readable) or temporal (WorkflowHistory.to_json of a run)"),
    ] = "timeline",
    run_id: Annotated[
        str | None,
        Query(
            # A run id is a UUID; anything else is refused here (422), not by Temporal (502).
            pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
            description="with format=temporal: which run (default: the latest)",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=10_000_000, description="timeline: index of the first entry")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="timeline: entries per page (capped by settings)")
    ] = 500,
) -> Any:
    """Every run of the case (continue-as-new followed): contacts sent/deferred/blocked with
    reasons, actions with their actor, signals, payments, stage changes, failed activities,
    timers. The same timeline as ``collectflow audit timeline``, a page at a time: follow
    ``next_offset`` until it is null. Roles: operator, supervisor, auditor."""
    case_id = case_id_for(loan_id)
    settings = state.settings
    if format == "temporal":
        history = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
        raw = history.to_json()
        _within_export_cap(case_id, len(raw.encode()), settings.export_max_bytes)
        return Response(content=raw, media_type="application/json")
    histories = await _histories(client, case_id, settings.history_max_runs)
    entries = build_timeline(histories)
    size = min(limit, settings.history_page_max)
    page = entries[offset : offset + size]
    if state.database is not None:  # free text opened for the reader (DESIGN §10)
        page = await vaulting.opened_entries(vaulting.vault_for(state.database, settings), page)
    following = offset + size
    return CaseHistory(
        case_id=case_id,
        loan_id=loan_id,
        runs=len(histories),
        entries=page,
        total=len(entries),
        offset=offset,
        next_offset=following if following < len(entries) else None,
    )


async def _histories(client: Client, case_id: str, max_runs: int) -> list[WorkflowHistory]:
    try:
        return await fetch_case_histories(client, case_id, max_runs=max_runs)
    except TooManyRuns as exc:
        raise ApiError(
            413,
            f"{exc}, more than one request reads (COLLECTFLOW_HISTORY_MAX_RUNS); use "
            "`collectflow audit timeline` or `collectflow audit export`",
        ) from exc


async def sign_and_record(state: AppState, bundle: ExportBundle) -> ExportBundle:
    """Signed with the configured key (none outside development: 503), its head recorded."""
    try:
        key = export_key(state.settings)
        signed = bundle.signed(key)
        if state.database is not None:
            await record_head(state.database, signed.manifest, key)
    except ExportRefused as exc:
        raise ApiError(503, f"the export cannot be made: {exc}", retry_after=60) from exc
    return signed


def _within_export_cap(case_id: str, size: int, cap: int) -> None:
    if size > cap:
        raise ApiError(
            413,
            f"the export of {case_id} is {size} bytes, above the API's limit of {cap} "
            "(COLLECTFLOW_EXPORT_MAX_BYTES); use `collectflow audit export`",
        )


@router.get(
    "/{loan_id}/export",
    response_model=CaseExport,
    summary="The verifiable audit export of the case",
    responses={
        404: {"description": "no case for this loan"},
        413: {"description": "more runs or bytes than one request reads; use the CLI"},
        503: {"description": "no signing key is configured, or the head was not recorded"},
    },
)
async def case_export(
    loan_id: LoanId,
    actor: Annotated[Actor, _actor(Action.EXPORT_CASE)],
    client: TemporalClientDep,
    state: StateDep,
) -> CaseExport:
    """What ``collectflow audit export`` writes, as one JSON document: the raw Temporal history
    of every run, the timeline, and the manifest sealing them (SHA-256 per file, hash chains
    over history events and timeline entries). Written out, it passes
    ``collectflow audit verify``. Roles: auditor, supervisor."""
    case_id = case_id_for(loan_id)
    histories = await _histories(client, case_id, state.settings.history_max_runs)
    bundle = build_export(histories, build_timeline(histories))
    size = sum(len(data) for data in bundle.files.values())
    _within_export_cap(case_id, size, state.settings.export_max_bytes)
    bundle = await sign_and_record(state, bundle)
    files = {name: data.decode("utf-8") for name, data in bundle.files.items()}
    return CaseExport(manifest=bundle.manifest, files=files, signature=bundle.signature)


# ---------------------------------------------------------------- actions
