"""Listing cases through Temporal visibility and the case search attributes.

The attribute names come from ``models.case`` (``SA_NAME_*``), shared with the workflow that
upserts them, so the API does not import workflow code.
"""

from __future__ import annotations

from decimal import Decimal

from temporalio.client import WorkflowExecution

from api.schemas import CaseSummary
from models.common import WORKFLOW_TYPE, Stage
from models.search_attributes import SA_AGENTS, SA_BALANCE, SA_DPD, SA_REGION, SA_STAGE, SA_STRATEGY

# Filter values go into the query text, so they are restricted to characters that cannot
# close a string literal; the routes validate them against this pattern (422 otherwise).
KEYWORD_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"


def cases_query(
    *,
    stage: Stage | None = None,
    region: str | None = None,
    agent: str | None = None,
    min_dpd: int | None = None,
    strategy: str | None = None,
) -> str:
    """The visibility query; earlier runs of continued cases are left out."""
    parts = [f"WorkflowType = '{WORKFLOW_TYPE}'", "ExecutionStatus != 'ContinuedAsNew'"]
    if stage is not None:
        parts.append(f"{SA_STAGE.name} = '{stage.value}'")
    if region is not None:
        parts.append(f"{SA_REGION.name} = '{region}'")
    if agent is not None:
        parts.append(f"{SA_AGENTS.name} = '{agent}'")
    if min_dpd is not None:
        parts.append(f"{SA_DPD.name} >= {int(min_dpd)}")
    if strategy is not None:
        parts.append(f"{SA_STRATEGY.name} = '{strategy}'")
    return " AND ".join(parts)


def _stage(value: str | None) -> Stage | None:
    try:
        return Stage(value) if value is not None else None
    except ValueError:
        return None


def summary(execution: WorkflowExecution) -> CaseSummary:
    attrs = execution.typed_search_attributes
    stage = attrs.get(SA_STAGE)
    balance = attrs.get(SA_BALANCE)
    return CaseSummary(
        case_id=execution.id,
        loan_id=execution.id.removeprefix("case-"),
        stage=_stage(stage),
        region=attrs.get(SA_REGION),
        days_past_due=attrs.get(SA_DPD),
        assigned_agents=list(attrs.get(SA_AGENTS) or []),
        balance=None if balance is None else f"{Decimal(str(balance)).quantize(Decimal('0.01'))}",
        strategy_id=attrs.get(SA_STRATEGY),
        status=execution.status.name.lower() if execution.status else "unknown",
        started_at=execution.start_time,
        closed_at=execution.close_time,
    )
