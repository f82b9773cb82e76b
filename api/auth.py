"""API keys and roles: who is calling, and what each role may do.

Keys are stored as SHA-256 digests (``Settings.api_keys``, lower-case, checked at start-up); a
request's key is stripped, hashed and compared in constant time. Keys are never logged; the
actor id stands in for them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from enum import StrEnum

from models.common import Actor, Role
from models.guards import hash_api_key


class Action(StrEnum):
    """Every protected route, by what it does."""

    OVERDUE_EVENT = "overdue_event"
    LIST_CASES = "list_cases"
    READ_CASE = "read_case"
    READ_HISTORY = "read_history"
    EXPORT_CASE = "export_case"
    PAYMENT = "payment"
    SCHEDULE_VISIT = "schedule_visit"
    VISIT_OUTCOME = "visit_outcome"
    NEGOTIATION = "negotiation"
    HARDSHIP = "hardship"
    DISPUTE = "dispute"
    NOTE = "note"
    CEASE_CONTACT = "cease_contact"
    ESCALATION = "escalation"
    CLOSE = "close"
    CODEC = "codec"


# For messages: "role 'auditor' may not record payments".
PHRASES: Mapping[Action, str] = {
    Action.OVERDUE_EVENT: "report overdue loans",
    Action.LIST_CASES: "list cases",
    Action.READ_CASE: "read cases",
    Action.READ_HISTORY: "read case histories",
    Action.EXPORT_CASE: "export cases for audit",
    Action.PAYMENT: "record payments",
    Action.SCHEDULE_VISIT: "schedule visits",
    Action.VISIT_OUTCOME: "record visit outcomes",
    Action.NEGOTIATION: "record negotiations",
    Action.HARDSHIP: "grant hardship pauses",
    Action.DISPUTE: "handle disputes",
    Action.NOTE: "add notes",
    Action.CEASE_CONTACT: "record cease-contact requests",
    Action.ESCALATION: "decide escalations",
    Action.CLOSE: "close cases",
    Action.CODEC: "decode or encode Temporal payloads",
}

_OPERATOR_ACTIONS = frozenset(
    {
        Action.SCHEDULE_VISIT,
        Action.VISIT_OUTCOME,
        Action.NEGOTIATION,
        Action.HARDSHIP,
        Action.DISPUTE,
        Action.NOTE,
        Action.CEASE_CONTACT,
        Action.CLOSE,
    }
)
_READS = frozenset({Action.LIST_CASES, Action.READ_CASE, Action.READ_HISTORY})

# The role table. Operators and supervisors read the cases they work on; auditors only read
# (and export, as do supervisors); the loan system (system) only reports overdue loans and
# payments.
ROLE_ACTIONS: Mapping[Role, frozenset[Action]] = {
    Role.SYSTEM: frozenset({Action.OVERDUE_EVENT, Action.PAYMENT}),
    Role.OPERATOR: _OPERATOR_ACTIONS | _READS,
    Role.SUPERVISOR: _OPERATOR_ACTIONS
    | _READS
    | {Action.ESCALATION, Action.EXPORT_CASE, Action.CODEC},
    Role.AUDITOR: _READS | {Action.EXPORT_CASE, Action.CODEC},
    Role.ADMIN: frozenset(Action),
}


def allowed(role: Role, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def roles_for(action: Action) -> list[Role]:
    return [role for role in Role if allowed(role, action)]


def resolve_key(key: str, keys: Mapping[str, tuple[str, str]]) -> Actor | None:
    """The actor whose hashed key matches; every stored digest is compared in constant time."""
    digest = hash_api_key(key).encode()
    found: tuple[str, str] | None = None
    for stored, actor in keys.items():
        if hmac.compare_digest(stored.encode(), digest):
            found = actor
    if found is None:
        return None
    actor_id, role = found  # entries were checked at start-up: a known role, an id
    return Actor(id=actor_id, role=Role(role))
