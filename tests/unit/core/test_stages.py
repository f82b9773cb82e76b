"""Stages as data: the transition table, its diagram, and moves outside it refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.common import TERMINAL_STAGES, Stage
from tests.unit.core.helpers import OPENED, new_case
from workflows.core import stages
from workflows.core.base import IllegalMove


def test_terminal_stages_go_nowhere_and_open_ones_reach_follow_up() -> None:
    for stage in TERMINAL_STAGES:
        assert stages.TRANSITIONS[stage] == frozenset()
    for stage in stages.MAIN_PATH:
        assert stages.may_move(stage, Stage.RESOLVED) and stages.may_move(stage, Stage.CLOSED)
        if stage is not Stage.FOLLOW_UP:  # wave 2: a promise or plan from any open stage
            assert stages.may_move(stage, Stage.FOLLOW_UP)
    assert stages.may_move(Stage.ESCALATED, Stage.LEGAL)
    assert not stages.may_move(Stage.REMINDING, Stage.LEGAL)


def test_the_diagram_is_drawn_from_the_table() -> None:
    mermaid = stages.render_mermaid()
    assert mermaid.startswith("stateDiagram-v2")
    edges = sum(len(t) for t in stages.TRANSITIONS.values())
    assert mermaid.count(" --> ") == edges + 1 + len(TERMINAL_STAGES)
    assert "    escalated --> legal" in mermaid
    assert "    reminding --> legal" not in mermaid
    ascii_art = stages.render_ascii()
    assert "legal       -> (terminal)" in ascii_art


def test_a_move_outside_the_table_is_a_bug_the_core_refuses() -> None:
    case = new_case()
    with pytest.raises(IllegalMove):
        case.enter(Stage.LEGAL, "no", OPENED)
    assert case.s.stage is Stage.REMINDING


def test_the_readme_shows_the_table_as_it_is() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
    assert f"```mermaid\n{stages.render_mermaid()}\n```" in readme
