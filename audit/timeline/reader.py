"""Walks one case's runs in order: accepted updates and signals with their actors, and the
case's own events (from ``sync_case``'s input in wave 1, its local-activity marker in wave 2)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from audit.timeline.entry import (
    SIGNAL_INPUTS,
    UPDATE_INPUTS,
    Source,
    TimelineEntry,
    actor_of,
    event_time,
    text_of,
)
from models import activities as act
from models.common import Actor


class Reader:
    """Walks one case's runs in order, remembering the stage as it goes."""

    def __init__(self, converter: DataConverter) -> None:
        self.payloads = converter.payload_converter
        self.stage: str | None = None
        self.seen_seqs: set[int] = set()
        self.seen_updates: set[str] = set()
        self.failed_updates: set[str] = set()
        # (run, event id) of an accepted update / a scheduled activity -> what it was
        self.updates: dict[tuple[int, int], tuple[str, Actor | None]] = {}
        self.activities: dict[tuple[int, int], str] = {}
        self.entries: list[tuple[tuple[int, datetime, int, int], TimelineEntry]] = []

    # -- decoding

    def decode(self, payloads: Payloads, hint: type[BaseModel] | None) -> tuple[Any, str | None]:
        """The first payload as ``hint`` (or raw JSON when it does not fit), and any problem."""
        if not payloads.payloads:
            return None, None
        if hint is not None:
            try:
                return self.payloads.from_payloads(payloads.payloads, [hint])[0], None
            except (ValidationError, ValueError, TypeError) as exc:
                problem = f"does not decode as {hint.__name__}: {exc}"
        else:
            problem = None
        try:
            return self.payloads.from_payloads(payloads.payloads, None)[0], problem
        except Exception as exc:  # an undecodable payload is reported, never fatal
            return None, f"undecodable payload: {exc}"

    # -- entries

    def add(self, run: int, event: HistoryEvent, entry: TimelineEntry, sub: int = 0) -> None:
        key = (run, event_time(event), event.event_id, sub)
        self.entries.append((key, entry))

    def entry(
        self,
        run: int,
        run_id: str,
        event: HistoryEvent,
        source: Source,
        kind: str,
        summary: str,
        *,
        details: dict[str, str] | None = None,
        actor: Actor | None = None,
    ) -> TimelineEntry:
        return TimelineEntry(
            at=event_time(event),
            run=run + 1,
            run_id=run_id,
            event_id=event.event_id,
            source=source,
            stage=self.stage,
            kind=kind,
            actor_id=actor.id if actor is not None else None,
            actor_role=actor.role.value if actor is not None else None,
            summary=summary,
            details=details or {},
        )

    def action(self, run: int, run_id: str, event: HistoryEvent, source: Source) -> None:
        """An accepted update or a signal: its name, its decoded input and its actor."""
        if source == "update":
            attrs = event.workflow_execution_update_accepted_event_attributes
            name = attrs.accepted_request.input.name
            args = attrs.accepted_request.input.args
            hint = UPDATE_INPUTS.get(name)
            update_id = attrs.accepted_request.meta.update_id
            if update_id in self.seen_updates:  # a reset run repeats accepted updates
                return
            self.seen_updates.add(update_id)
            extra = {"update_id": update_id}
        else:
            sig = event.workflow_execution_signaled_event_attributes
            name, args, hint = sig.signal_name, sig.input, SIGNAL_INPUTS.get(sig.signal_name)
            extra = {"identity": sig.identity} if sig.identity else {}
        value, problem = self.decode(args, hint)
        actor = actor_of(value)
        if source == "update":
            self.updates[(run, event.event_id)] = (name, actor)
        if isinstance(value, BaseModel):
            fields = value.model_dump(mode="json", exclude={"actor"})
        elif isinstance(value, dict):
            fields = {k: v for k, v in value.items() if k != "actor"}
        else:
            fields = {} if value is None else {"input": value}
        details = {k: text_of(v) for k, v in fields.items() if v not in (None, "", [], {})}
        details.update(extra)
        if problem:
            details["decode_problem"] = problem
        shown = ", ".join(f"{k}={v}" for k, v in details.items() if k not in extra)
        by = f" by {actor.id} ({actor.role.value})" if actor is not None else ""
        summary = f"{source} {name}{by}" + (f": {shown}" if shown else "")
        self.add(
            run,
            event,
            self.entry(run, run_id, event, source, name, summary, details=details, actor=actor),
        )

    def update_completed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """An accepted update whose handler then failed: the action did not happen."""
        attrs = event.workflow_execution_update_completed_event_attributes
        update_id = attrs.meta.update_id
        if not attrs.outcome.HasField("failure") or update_id in self.failed_updates:
            return
        self.failed_updates.add(update_id)
        name, actor = self.updates.get((run, attrs.accepted_event_id), ("update", None))
        message = attrs.outcome.failure.message
        details = {"update": name, "update_id": update_id, "failure": message}
        summary = f"update {name} failed after it was accepted: {message}"
        self.add(
            run,
            event,
            self.entry(
                run, run_id, event, "update", "update_failed", summary, details=details, actor=actor
            ),
        )

    def activity_scheduled(self, run: int, run_id: str, event: HistoryEvent) -> None:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        self.activities[(run, event.event_id)] = name
        if name == act.SYNC_CASE:
            self.case_events(run, run_id, event)

    def case_events(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """Wave 1: the events in a ``sync_case`` activity's input."""
        attrs = event.activity_task_scheduled_event_attributes
        value, problem = self.decode(attrs.input, act.CaseProjection)
        if not isinstance(value, act.CaseProjection):
            summary = f"sync_case input could not be read: {problem}"
            self.emit(run, run_id, event, "case_event", "unreadable", summary)
            return
        self.add_case_events(run, run_id, event, value.events)

    def marker(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """Wave 2: the sync runs as a local activity; its marker's result holds the events."""
        attrs = event.marker_recorded_event_attributes
        if attrs.marker_name != "core_local_activity" or "data" not in attrs.details:
            return
        try:
            meta = json.loads(attrs.details["data"].payloads[0].data)
        except (ValueError, IndexError):
            return
        if meta.get("activity_type") != act.SYNC_CASE or "result" not in attrs.details:
            return
        value, problem = self.decode(attrs.details["result"], act.SyncResult)
        if not isinstance(value, act.SyncResult):
            summary = f"sync_case result could not be read: {problem}"
            self.emit(run, run_id, event, "case_event", "unreadable", summary)
            return
        self.add_case_events(run, run_id, event, value.events)

    def add_case_events(
        self, run: int, run_id: str, event: HistoryEvent, events: list[act.CaseEvent]
    ) -> None:
        for case_event in events:
            if case_event.seq in self.seen_seqs:
                continue
            self.seen_seqs.add(case_event.seq)
            self.stage = case_event.stage.value
            entry = TimelineEntry(
                at=case_event.at,
                run=run + 1,
                run_id=run_id,
                event_id=event.event_id,
                seq=case_event.seq,
                source="case_event",
                stage=case_event.stage.value,
                kind=case_event.kind.value,
                actor_id=case_event.actor.id,
                actor_role=case_event.actor.role.value,
                summary=case_event.summary,
                details=dict(case_event.details),
            )
            self.add(run, event, entry, sub=case_event.seq)

    def emit(
        self,
        run: int,
        run_id: str,
        event: HistoryEvent,
        source: Source,
        kind: str,
        summary: str,
        details: dict[str, str] | None = None,
    ) -> None:
        self.add(run, event, self.entry(run, run_id, event, source, kind, summary, details=details))
