"""Which screens each role opens: the navigation and the role checks read this one table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.common import Role


@dataclass(frozen=True)
class Screen:
    key: str  # catalogue key of its title: nav.<key>, and its description: nav.<key>_about
    path: str


WORKLIST = Screen("worklist", "/worklist")
CASES = Screen("cases", "/cases")
USERS = Screen("users", "/users")
DOCS = Screen("docs", "/docs")

SCREENS: Mapping[Role, tuple[Screen, ...]] = {
    Role.OPERATOR: (WORKLIST, CASES),
    Role.SUPERVISOR: (WORKLIST, CASES),
    Role.AUDITOR: (CASES,),
    Role.ADMIN: (WORKLIST, CASES, USERS, DOCS),
    Role.SYSTEM: (DOCS,),
}


def screens_for(role: Role) -> tuple[Screen, ...]:
    return SCREENS.get(role, ())


def may_open(role: Role, screen: Screen) -> bool:
    return screen in screens_for(role)
