"""The auditor's screens: find a case, read its whole timeline, export it, verify an export.

Nothing here writes to a case: the pages hold a search form (GET) and the verify upload,
which only reads the file it is given. Export records its head (as the API's export does).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from api.auth import Action, allowed
from api.deps import AppState
from api.errors import ApiError
from models.common import Role
from models.tables import Case, Loan
from web import auditing
from web.pages import render, web_state
from web.session import Forbidden, Person, check_csrf, person_with

router = APIRouter(include_in_schema=False)
LoanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)]
Auditors = Depends(person_with(Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN))
PAGE = 200
FOUND_LIMIT = 50


def _api(request: Request) -> AppState:
    state: AppState = request.app.state.collectflow
    return state


async def _search(request: Request, term: str) -> list[tuple[str, str, str]]:
    """(loan id, borrower id, stage) of cases whose loan or borrower id is ``term``."""
    db = web_state(request).database
    if db is None or not term:
        return []
    async with db.session() as session:
        rows = await session.exec(
            select(Loan.loan_id, Loan.borrower_id, Case.stage)
            .join(Case, col(Case.loan_id) == col(Loan.loan_id))
            .where((col(Loan.loan_id) == term) | (col(Loan.borrower_id) == term))
            .order_by(col(Loan.loan_id))
            .limit(FOUND_LIMIT)
        )
        return [(loan, borrower, str(stage)) for loan, borrower, stage in rows]


@router.get("/audit")
async def audit_home(request: Request, found: Annotated[Person, Auditors]) -> Response:
    term = (request.query_params.get("q") or "").strip()[:64]
    hits = await _search(request, term)
    if len(hits) == 1 and hits[0][0] == term:
        return RedirectResponse(f"/audit/{term}", status_code=303)
    return render(
        request, "audit.html", user=found.user, csrf=found.csrf_token, term=term, hits=hits,
        verdict=None, problem=None,
    )  # fmt: skip


@router.get("/audit/{loan_id}")
async def audit_case(
    request: Request, found: Annotated[Person, Auditors], loan_id: LoanId, offset: int = 0
) -> Response:
    api = _api(request)
    try:
        entries = await auditing.whole_timeline(api, await api.temporal(), loan_id)
    except ApiError as err:
        return render(
            request, "case_missing.html", user=found.user, csrf=found.csrf_token,
            status=err.status_code, loan_id=loan_id, sentence=str(err.detail),
        )  # fmt: skip
    start = max(0, min(offset, len(entries)))
    return render(
        request, "audit_case.html", user=found.user, csrf=found.csrf_token, loan_id=loan_id,
        entries=entries[start : start + PAGE], total=len(entries), offset=start, page=PAGE,
        may_export=allowed(found.user.role, Action.EXPORT_CASE),
    )  # fmt: skip


@router.get("/audit/{loan_id}/export.zip")
async def export(request: Request, found: Annotated[Person, Auditors], loan_id: LoanId) -> Response:
    if not allowed(found.user.role, Action.EXPORT_CASE):
        raise Forbidden("forbidden.role")
    api = _api(request)
    try:
        data, manifest = await auditing.export_zip(api, await api.temporal(), loan_id)
    except ApiError as err:
        return render(
            request, "case_missing.html", user=found.user, csrf=found.csrf_token,
            status=err.status_code, loan_id=loan_id, sentence=str(err.detail),
        )  # fmt: skip
    headers = {
        "Content-Disposition": f'attachment; filename="{manifest.workflow_id}-export.zip"',
        "Cache-Control": "no-store",
    }
    return Response(data, media_type="application/zip", headers=headers)


@router.post("/audit/verify")
async def verify(request: Request, found: Annotated[Person, Auditors]) -> Response:
    """Check an export zip; a far larger upload was refused by the body cap already."""
    await check_csrf(request, found.csrf_token)
    status, verdict, problem = await _verify_upload(request)
    return render(
        request, "audit.html", user=found.user, csrf=found.csrf_token, status=status,
        term="", hits=[], verdict=verdict, problem=problem,
    )  # fmt: skip


async def _verify_upload(request: Request) -> tuple[int, auditing.Verdict | None, str | None]:
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        return 422, None, "audit.no_file"
    data = await upload.read(auditing.MAX_ZIP_BYTES + 1)
    if len(data) > auditing.MAX_ZIP_BYTES:
        return 413, None, "audit.too_big"
    try:
        verdict = await auditing.verify_zip(_api(request), data)
    except auditing.NotAnExport as exc:
        return 422, None, str(exc)
    return (200 if verdict.result.ok else 422), verdict, None
