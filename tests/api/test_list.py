"""``GET /v1/cases`` finds cases by stage, region, agent and DPD (issue test 7)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import ApiHarness


async def _list_until(
    api: ApiHarness, query: str, expected: set[str], within: float = 15.0
) -> list[dict[str, Any]]:
    """Visibility is eventually consistent: poll until the listing is exactly ``expected``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await api.get("operator", f"/v1/cases?{query}")
        assert response.status_code == 200, response.text
        cases: list[dict[str, Any]] = response.json()["cases"]
        if {c["loan_id"] for c in cases} == expected:
            return cases
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{query}: {[c['loan_id'] for c in cases]} != {expected}")
        await asyncio.sleep(0.25)


async def test_list_by_stage_finds_exactly_the_cases_in_that_stage(api: ApiHarness) -> None:
    """Two cases in visit, one still reminding: stage=visit lists exactly the two."""
    in_visit = {await api.open_case(strategy="straight-to-visit") for _ in range(2)}
    reminding = await api.open_case(strategy="slow")
    region = api.region

    cases = await _list_until(api, f"stage=visit&region={region}", in_visit)
    assert {c["stage"] for c in cases} == {"visit"}
    assert all(c["region"] == region and c["status"] == "running" for c in cases)
    assert all(c["balance"] == "1530.50" for c in cases)
    await _list_until(api, f"stage=reminding&region={region}", {reminding})
    await _list_until(api, f"region={region}", in_visit | {reminding})

    agent = api.stand_ins.agents[0]
    by_agent = await _list_until(api, f"agent={agent}&stage=visit", in_visit)
    assert all(agent in c["assigned_agents"] for c in by_agent)
    await _list_until(api, f"region={region}&min_dpd=1000", set())
    await _list_until(api, f"region={region}&strategy=slow", {reminding})

    listed = await api.get("auditor", f"/v1/cases?stage=visit&region={region}&limit=1")
    assert len(listed.json()["cases"]) == 1
    assert "CaseStage = 'visit'" in listed.json()["query"]
