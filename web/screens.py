"""Which screens each role opens: the navigation and the role checks read this one table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.common import Role
from models.users import User


@dataclass(frozen=True)
class Screen:
    key: str  # catalogue key of its title: nav.<key>, and its description: nav.<key>_about
    path: str


TODAY = Screen("today", "/today")
WORKLIST = Screen("worklist", "/worklist")
CASES = Screen("cases", "/cases")
ESCALATIONS = Screen("escalations", "/escalations")
APPROVALS = Screen("approvals", "/approvals")
DASHBOARD = Screen("dashboard", "/dashboard")
AUDIT = Screen("audit", "/audit")
USERS = Screen("users", "/users")
DOCS = Screen("docs", "/docs")

SCREENS: Mapping[Role, tuple[Screen, ...]] = {
    Role.OPERATOR: (WORKLIST, CASES),
    Role.SUPERVISOR: (ESCALATIONS, APPROVALS, DASHBOARD, WORKLIST, CASES),
    Role.AUDITOR: (AUDIT, CASES),
    Role.ADMIN: (WORKLIST, CASES, ESCALATIONS, APPROVALS, DASHBOARD, USERS, DOCS),
    Role.SYSTEM: (DOCS,),
}


def screens_for(role: Role) -> tuple[Screen, ...]:
    return SCREENS.get(role, ())


def screens_of(user: User) -> tuple[Screen, ...]:
    """The role's screens; a field collector (a person with an agent record) starts at today."""
    screens = screens_for(user.role)
    return (TODAY, *screens) if user.agent_id else screens


def may_open(role: Role, screen: Screen) -> bool:
    return screen in screens_for(role)
