"""The case's custom search attributes as typed keys: the workflow upserts them, the API's
list queries filter on them. One definition for both (names in ``models.case``)."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from models import case as c

SA_STAGE = SearchAttributeKey.for_keyword(c.SA_NAME_STAGE)
SA_DPD = SearchAttributeKey.for_int(c.SA_NAME_DPD)
SA_REGION = SearchAttributeKey.for_keyword(c.SA_NAME_REGION)
SA_AGENTS = SearchAttributeKey.for_keyword_list(c.SA_NAME_AGENTS)
SA_BALANCE = SearchAttributeKey.for_float(c.SA_NAME_BALANCE)
SA_STRATEGY = SearchAttributeKey.for_keyword(c.SA_NAME_STRATEGY)
SEARCH_ATTRIBUTES = (SA_STAGE, SA_DPD, SA_REGION, SA_AGENTS, SA_BALANCE, SA_STRATEGY)


def updates(
    values: tuple[str, int, str, tuple[str, ...], float], strategy_id: str
) -> list[SearchAttributeUpdate[Any]]:
    """The upsert of every attribute from the case's values (stage, dpd, region, collectors,
    balance) and its strategy."""
    stage, dpd, region, agents, balance = values
    return [
        SA_STAGE.value_set(stage),
        SA_DPD.value_set(dpd),
        SA_REGION.value_set(region),
        SA_AGENTS.value_set(list(agents)),
        SA_BALANCE.value_set(balance),
        SA_STRATEGY.value_set(strategy_id),
    ]
