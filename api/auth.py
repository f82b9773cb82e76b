"""API keys and roles: who is calling, and what each role may do.

Keys are stored as SHA-256 digests (``Settings.api_keys``); a request's key is hashed and
compared in constant time. Keys are never logged; the actor id stands in for them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from models.actions import ACTIONS, ActionName
from models.actions import allowed as table_allowed
from models.actions import roles_for as table_roles_for
from models.common import API_KEY_ROLES, Actor, Role

# Every protected route, by what it does: the action table's names (models/actions.py).
Action = ActionName

# For messages: "role 'auditor' may not record payments".
PHRASES: Mapping[Action, str] = {name: spec.phrase_en for name, spec in ACTIONS.items()}


def allowed(role: Role, action: Action) -> bool:
    """Whether an API key of ``role`` may call the route for ``action``; never a borrower."""
    return role in API_KEY_ROLES and table_allowed(role, action)


def roles_for(action: Action) -> list[Role]:
    return [role for role in table_roles_for(action) if role in API_KEY_ROLES]


def resolve_key(key: str, keys: Mapping[str, tuple[str, str]]) -> Actor | None:
    """The actor whose hashed key matches; every stored digest is compared in constant time."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    found: tuple[str, str] | None = None
    for stored, actor in keys.items():
        if hmac.compare_digest(stored.lower().encode(), digest.encode()):
            found = actor
    if found is None:
        return None
    actor_id, role = found
    try:
        parsed = Role(role)
    except ValueError:  # a misconfigured key (unknown role) authenticates nobody
        return None
    if parsed not in API_KEY_ROLES:  # 'borrower' is an actor, never a key's role
        return None
    return Actor(id=actor_id, role=parsed)
