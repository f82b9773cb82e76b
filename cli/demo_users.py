"""Demo people for ``collectflow dev --demo``: one per role, and a field collector.

Development only (the demo refuses to run elsewhere); the passwords are printed in the banner.
"""

from __future__ import annotations

from activities.db import Database
from models.common import Role
from models.users import UserCreate
from web import accounts

# username, display name, role, agent record (field collector), password
DEMO_USERS: tuple[tuple[str, str, Role, str | None, str], ...] = (
    ("operator", "演示催收员 Demo Operator", Role.OPERATOR, None, "demo-operator"),
    ("collector", "演示外访员 Demo Collector", Role.OPERATOR, "A-HZ-1", "demo-collector"),
    ("supervisor", "演示主管 Demo Supervisor", Role.SUPERVISOR, None, "demo-supervisor"),
    ("auditor", "演示审计员 Demo Auditor", Role.AUDITOR, None, "demo-auditor"),
    ("admin", "演示管理员 Demo Admin", Role.ADMIN, None, "demo-admin-1"),
)


async def seed_users(database_url: str) -> int:
    """Add the demo people who are not there yet (agents first: seed_agents); how many added."""
    database = Database(database_url)
    added = 0
    try:
        for username, name, role, agent, password in DEMO_USERS:
            if await accounts.get_user(database, username) is not None:
                continue
            create = UserCreate(
                username=username,
                display_name=name,
                role=role,
                agent_id=agent,
                password=password,
            )
            await accounts.add_user(database, create)
            added += 1
    finally:
        await database.dispose()
    return added


def banner_lines(api_url: str) -> list[str]:
    lines = [f"  Screens         {api_url}/login   (demo people, development only):"]
    for username, _, role, agent, password in DEMO_USERS:
        what = f"{role.value}, field agent {agent}" if agent else role.value
        lines.append(f"    {username:<11} {password:<16} {what}")
    return lines
