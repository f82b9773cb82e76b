"""Driving a case on the time-skipping server: advance time until the case reaches a point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models.case import QUERY_STATE, CaseView, UpdateReceipt
from models.common import Stage


async def state(handle: WorkflowHandle[Any, Any]) -> CaseView:
    view: CaseView = await handle.query(QUERY_STATE, result_type=CaseView)
    return view


async def advance_until(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, Any],
    reached: Callable[[CaseView], bool],
    *,
    step: timedelta = timedelta(hours=3),
    limit: timedelta = timedelta(days=120),
) -> CaseView:
    """Skip time in steps until ``reached(state)``; fail loudly if it never happens."""
    waited = timedelta(0)
    while True:
        view = await _query_patiently(env, handle)
        if reached(view):
            return view
        if waited >= limit:
            raise AssertionError(
                f"not reached after {limit}: stage {view.stage}, next {view.next_action}"
            )
        await env.sleep(step)
        waited += step


async def _query_patiently(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> CaseView:
    """Query, retrying a few times: right after a continue-as-new the Java test server can
    time out a query while the new run's first task is still pending."""
    for _ in range(5):
        try:
            return await state(handle)
        except RPCError as err:
            if "deadline" not in str(err) and "Timeout" not in str(err):
                raise
            await env.sleep(timedelta(minutes=1))
    return await state(handle)


async def advance_to_stage(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, Any],
    stage: Stage,
    **kwargs: timedelta,
) -> CaseView:
    return await advance_until(env, handle, lambda v: v.stage is stage, **kwargs)


async def update_view(handle: WorkflowHandle[Any, Any], name: str, arg: Any) -> CaseView:
    """Run an update (it answers a compact receipt) and read the case view it left."""
    await handle.execute_update(name, arg, result_type=UpdateReceipt)
    return await state(handle)
