"""A timeline entry, and the small helpers every reader of a history shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.api.history.v1 import HistoryEvent

from models.actions import Kind, by_handler
from models.common import Actor

Source = Literal["case_event", "update", "signal", "activity", "timer", "workflow"]

# Decoded by the action table's contracts, so a new action needs no edit here.
UPDATE_INPUTS: dict[str, type[BaseModel]] = {
    name: spec.input for name, spec in by_handler(Kind.UPDATE).items() if spec.input
}
SIGNAL_INPUTS: dict[str, type[BaseModel]] = {
    name: spec.input for name, spec in by_handler(Kind.SIGNAL).items() if spec.input
}


class TimelineEntry(BaseModel):
    """One line of a case's audit timeline."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    run: int = Field(description="1 for the first run of the case, 2 after a continue-as-new, ...")
    run_id: str
    event_id: int = Field(description="the history event that carries this entry, in its run")
    seq: int | None = Field(default=None, description="the case event's case-wide sequence")
    source: Source
    stage: str | None
    kind: str
    actor_id: str | None = None
    actor_role: str | None = None
    summary: str
    details: dict[str, str] = Field(default_factory=dict)


def text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def actor_of(value: Any) -> Actor | None:
    """The actor an input names, whether it decoded as its model or only as raw JSON."""
    found = value.get("actor") if isinstance(value, dict) else getattr(value, "actor", None)
    if isinstance(found, Actor):
        return found
    try:
        return Actor.model_validate(found) if found is not None else None
    except ValidationError:
        return None


def event_time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)
