"""Building cases for the core's tests: real strategies from strategies/, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from models.actions import ActionName
from models.common import Actor, Role, Stage
from models.strategy import Strategy
from tests.factories import borrower, default_strategy, loan
from workflows.core import effects as fx
from workflows.core.actions.registry import CASE_ACTIONS
from workflows.core.case import Case
from workflows.core.results import collectors_result
from workflows.core.state import open_state
from workflows.core.timers import on_timer

OPENED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SYSTEM = Actor(id="loan-system", role=Role.SYSTEM)
OPERATOR = Actor(id="op-1", role=Role.OPERATOR)
SUPERVISOR = Actor(id="sup-1", role=Role.SUPERVISOR)
ADMIN = Actor(id="admin-1", role=Role.ADMIN)
AUDITOR = Actor(id="aud-1", role=Role.AUDITOR)
BORROWER = Actor(id="b-1", role=Role.BORROWER)


def new_case(strategy: Strategy | None = None, amount: str = "1000.00", **changes: Any) -> Case:
    the_loan = loan(amount=amount, due=OPENED.date())
    state = open_state("case-T", the_loan, borrower(**changes), OPENED)
    return Case(state, strategy or default_strategy())


def act(case: Case, name: ActionName, inp: Any, actor: Actor, now: datetime) -> list[fx.Effect]:
    action = CASE_ACTIONS[name]
    action.check(case, inp, actor, now)
    return action.apply(case, inp, actor, now)


def run_until(case: Case, until: datetime, start: datetime = OPENED) -> list[fx.Effect]:
    """Drive the clock as a shell would: wake at each wait, collect every effect."""
    now, out = start, []
    for _ in range(500):
        effects = on_timer(case, now)
        for asked in [e for e in effects if isinstance(e, fx.AssignCollectors)]:
            # as the shell does: the assignment activity answers with two collectors
            effects += collectors_result(case, asked.visit_no, ["F-1", "F-2"], "", now)
        out += effects
        timer = next(e for e in reversed(effects) if isinstance(e, fx.Timer))
        if timer.until is None or timer.until > until:
            break
        now = max(timer.until, now + timedelta(seconds=1))
    return out


def contacts(effects: list[fx.Effect]) -> list[fx.Contact]:
    return [e for e in effects if isinstance(e, fx.Contact)]


def money(value: str) -> Decimal:
    return Decimal(value)


def stage_of(case: Case) -> Stage:
    """The stage, read fresh (mypy would otherwise narrow it across an action)."""
    return case.s.stage
