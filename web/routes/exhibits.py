"""Opening a case's visit evidence: the sealed file opened for a supervisor, auditor or admin,
each opening logged (who, which case, which file)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from activities.vault import files
from activities.vault.store import Vault
from api.vaulting import borrower_of_case
from models.common import case_id_for
from web import evidence, exhibits
from web.i18n import Translator
from web.pages import language, render, web_state
from web.session import Person, person_with

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("collectflow.web.evidence")
LoanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)]
Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
Openers = Depends(person_with(*sorted(exhibits.OPENERS)))


@router.get("/cases/{loan_id}/evidence/{sha256}")
async def open_evidence(
    request: Request, found: Annotated[Person, Openers], loan_id: LoanId, sha256: Sha
) -> Response:
    """The photo or recording as it was uploaded, never cached; 404 with a sentence when the
    case has no such file or its borrower was erased."""
    state = web_state(request)
    case_id = case_id_for(loan_id)
    borrower_id = await borrower_of_case(state.database, case_id) if state.database else None
    kept = (
        exhibits.sealed_file(state.settings.data_dir, borrower_id, sha256) if borrower_id else None
    )
    opened = None
    if state.database is not None and borrower_id is not None and kept is not None:
        vault = Vault.from_settings(state.database, state.settings)
        opened = await files.open_file(vault, borrower_id, kept)
    if opened is None:
        return render(
            request, "case_missing.html", user=found.user, csrf=found.csrf_token, status=404,
            loan_id=loan_id, sentence=Translator(language(request, found.user))("evidence.gone"),
        )  # fmt: skip
    log.info(
        "evidence opened", case_id=case_id, loan_id=loan_id, actor=found.user.username,
        role=found.user.role.value, sha256=sha256,
    )  # fmt: skip
    sniffed = evidence.sniff(opened[:16])
    return Response(
        opened,
        media_type=sniffed[1] if sniffed else "application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{sha256[:12]}"',
        },
    )
