"""What the core asks the shell to do. The core never does it itself: no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from models.common import Actor, Channel


@dataclass(frozen=True)
class Contact:
    """Send one message or place one call now; the gate has already said yes."""

    key: str  # {case_id}/g{generation}/{step}: the exactly-once key of the contact ledger
    channel: Channel
    step: str
    template: str
    to: str
    at: datetime
    transactional: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    message: str


@dataclass(frozen=True)
class Event:
    """One entry for the read model and the timeline."""

    kind: str
    summary: str
    at: datetime
    actor: Actor | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignCollectors:
    visit_no: int
    region: str
    day: date
    count: int


@dataclass(frozen=True)
class LegalHandoff:
    approved_by: Actor


@dataclass(frozen=True)
class DoNotContact:
    """Remember an opt-out for the phone number, beyond this case (DESIGN §2)."""

    phone: str
    channel: Channel


@dataclass(frozen=True)
class Timer:
    """The next wait moved: the shell re-aims its one timer (``until`` None: no timer)."""

    until: datetime | None
    reason: str


Effect = Contact | Alert | Event | AssignCollectors | LegalHandoff | DoNotContact | Timer
