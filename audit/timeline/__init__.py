"""A case's readable timeline, built from its Temporal histories: the canonical one.

Temporal's history is the source of truth. The timeline reads it across every run of a case
(continue-as-new chains) and keeps, in history order:

- every ``CaseEvent`` the workflow sent to the read model in its ``sync_case`` activity inputs:
  contact decisions (sent / deferred until / blocked and why), stage transitions, payments,
  operator actions with their actor (``source="case_event"``);
- every accepted update with its decoded input and actor (``source="update"``), and an
  ``update_failed`` entry when an accepted update's handler failed; rejected updates never
  change a case and are left out;
- every signal with its input (``source="signal"``);
- activities that failed for good or timed out, after their retries (``source="activity"``);
- timers started, fired and cancelled (``source="timer"``);
- each run's start (strategy id and version in force), continue-as-new and end, and failed
  workflow tasks (a code fault, a non-deterministic change, a reset) (``source="workflow"``).

An operator action therefore appears twice, once as the update that asked for it and once as the
case events it caused; ``source`` tells them apart. Case events are de-duplicated by their
case-wide sequence number (a reset run repeats its predecessor's events).

Each entry names its run by id and by number (``run``: 1 for the first run handed in, 2 for
the run it continued as, ...). Entries are ordered run by run (first run first), within a run
by the time of the history event that carries them, then its event id, then the case-event
sequence within one ``sync_case``.
``at`` is when the thing happened: for a case event, the workflow time at which the workflow
decided it, which can be a little earlier than the history event that reported it.

Pure: no I/O except :func:`fetch_case_histories`. Payloads are decoded with the data
converter's payload converter; histories whose payloads pass through a codec must be decoded
before they are handed in. Split by concern: ``entry`` (the entry and shared helpers),
``reader`` (updates, signals, case events), ``lifecycle`` (runs, failures, timers), ``build``
(the walk over the histories, and fetching them).
"""

from audit.timeline.build import (
    TooManyRuns,
    build_timeline,
    fetch_case_histories,
    history_run_id,
)
from audit.timeline.entry import SIGNAL_INPUTS, UPDATE_INPUTS, Source, TimelineEntry

__all__ = [
    "SIGNAL_INPUTS",
    "UPDATE_INPUTS",
    "Source",
    "TimelineEntry",
    "TooManyRuns",
    "build_timeline",
    "fetch_case_histories",
    "history_run_id",
]
