"""A timeline entry's summary in the viewer's language.

The timeline (``audit.timeline``) keeps the core's English summaries: they are what the signed
export and the API carry, so they never change with a reader. The screens show an entry
through :func:`summary`: in English the summary as written; in zh-CN the summary's known
shapes (the core's wording, matched below) rendered from the catalogue's ``tl.*`` strings,
with stage names, channels, decisions, outcomes and the contact rules' reasons translated.
A shape not known here is shown in English rather than guessed at.

Note text (a note, a borrower's SMS reply, a note's text in an update) reaches a screen only
through :func:`note_text`, so a vault reference can be resolved (or withheld) in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from audit.timeline import TimelineEntry
from models.actions import Kind, by_handler
from web.i18n import Translator
from web.timeline_shapes import (
    CASE_EVENTS,
    GATE,
    LABEL,
    REFUSALS,
    REVEALED,
    WHY,
    WORKFLOW,
    Shapes,
)

NOTE_KINDS = frozenset({"note", "archived_note"})
HIDDEN_FIELDS = frozenset({"update_id", "identity"})
PHRASES = {
    **{name: s.phrase_zh for name, s in by_handler(Kind.UPDATE).items()},
    **{name: s.phrase_zh for name, s in by_handler(Kind.SIGNAL).items()},
}
Show = Callable[[str], str]  # a captured group as the viewer should read it


# The resend marker the field screen puts after what it records (web/outcomes.py): the case's
# own bookkeeping, nothing a reader needs.
_RESEND_MARKER = re.compile(r"\s*\[ref:[A-Za-z0-9-]{8,64}\]")


def note_text(text: str) -> str:
    """The one place a note's text reaches a screen."""
    return _RESEND_MARKER.sub("", text)


class Words:
    """Renders summaries for one viewer: their translator and their clock."""

    def __init__(self, t: Translator, when: Show) -> None:
        self.t = t
        self.when = when
        self.zh = t.language == "zh-CN"

    def word(self, prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        found = self.t(key)
        return value if found == key else found

    def gate(self, text: str) -> str:
        """Each of the contact rules' reasons in the viewer's language."""
        if not self.zh:
            return text
        return "；".join(self._one_reason(part) for part in text.split("; "))

    def _one_reason(self, text: str) -> str:
        for pattern, key in GATE:
            if found := re.fullmatch(pattern, text):
                return self.t(f"tl.gate.{key}", **self._groups(found.groupdict()))
        return text

    def why(self, text: str) -> str:
        return self._match(WHY, text, "why") or text

    def label(self, text: str) -> str:
        return self._match(((LABEL, "label"),), text, "kind") or text

    def _groups(self, groups: dict[str, str]) -> dict[str, str]:
        shows: dict[str, Show] = {
            "stage": lambda v: self.word("stage", v),
            "stage2": lambda v: self.word("stage", v),
            "channel": lambda v: self.word("next", v),
            "call": lambda v: self.word("call", v),
            "req": lambda v: self.word("request", f"kind_{v}"),
            "verdict": lambda v: self.word("request", f"status_{v}"),
            "decision": lambda v: self.word("decision", v),
            "visit": lambda v: self.word("outcome", v),
            "reason": self.gate,
            "why": self.why,
            "label": self.label,
            "close": lambda v: self.word("request", f"close_{v}"),
            "dr": lambda v: self.word("reason", v),
            "res": lambda v: self.word("result", v),
            "ck": lambda v: self.word("tl.kind", v),
            "detail": lambda v: self.word("case", f"detail_{v}"),
            "note": note_text,
            "at": self.when,
            "treatment": lambda v: self.word("tl.treatment", v),
            "segment": lambda v: self.word("tl.segment", v),
        }
        return {k: shows.get(k, str)(v) for k, v in groups.items()}

    def _match(self, shapes: Shapes, text: str, prefix: str) -> str | None:
        for pattern, key in shapes:
            if found := re.fullmatch(pattern, text, re.DOTALL):
                try:
                    return self.t(f"tl.{prefix}.{key}", **self._groups(found.groupdict()))
                except (KeyError, IndexError, ValueError):  # a catalogue slip: show the English
                    return None
        return None

    def _refusal(self, entry: TimelineEntry) -> str | None:
        known = REFUSALS.get(entry.details.get("code", ""))
        found = known[0].match(entry.summary) if known else None
        return known[1].format(**found.groupdict()) if known and found else None

    def _action(self, entry: TimelineEntry) -> str:
        """An update or a signal: what was asked, by whom, with which fields."""
        fields = ", ".join(
            f"{k}={note_text(v) if k in ('text', 'notes') else v}"
            for k, v in entry.details.items()
            if k not in HIDDEN_FIELDS and k != "decode_problem"
        )
        if not self.zh:
            by = f" by {entry.actor_id} ({entry.actor_role})" if entry.actor_id else ""
            return f"{entry.source} {entry.kind}{by}" + (f": {fields}" if fields else "")
        what = PHRASES.get(entry.kind, entry.kind)
        by = f"{entry.actor_id}（{self.role(entry.actor_role)}）" if entry.actor_id else ""
        key = "tl.update" if entry.source == "update" else "tl.signal"
        return self.t(key, what=what, by=by) + (f"：{fields}" if fields else "")

    def event(self, kind: str, text: str) -> str:
        """A case event's summary known only by its kind and text (the read model's row)."""
        if not self.zh:
            return text
        return self._match(CASE_EVENTS.get(kind, ()), text, "event") or text

    def tag(self, entry: TimelineEntry) -> str:
        """The entry's label: its kind in English; in zh-CN a word for it."""
        if not self.zh:
            return entry.kind
        if entry.source in ("update", "signal", "timer", "workflow", "activity"):
            return self.t(f"tl.tag.{entry.source}")
        return self.word("tl.tag", entry.kind)

    def role(self, role: str | None) -> str:
        """A role as the timeline names it: the code in English (as the export), a word in zh-CN."""
        if not self.zh:
            return role or ""
        # "system" is CollectFlow itself as often as the loan system: the plain word for both.
        return self.t("tl.role_system") if role == "system" else self.word("role", role or "")

    def summary(self, entry: TimelineEntry) -> str:
        if (
            entry.source == "case_event"
            and entry.kind in NOTE_KINDS
            and not entry.summary.startswith("borrower wrote: ")
        ):
            return self._note(note_text(entry.summary))
        if entry.source in ("update", "signal") and entry.kind != "update_failed":
            return self._action(entry)
        if not self.zh:
            return entry.summary if entry.kind != "note" else self._english_reply(entry)
        if entry.source == "case_event":
            if entry.kind == "refused":
                return self._refusal(entry) or entry.summary
            if entry.kind in ("assessment", "offer"):
                return self._assessed(entry) or entry.summary
            shapes = CASE_EVENTS.get(entry.kind, ())
            return self._match(shapes, entry.summary, "event") or entry.summary
        if entry.source in ("workflow", "timer"):
            return self._match(WORKFLOW, entry.summary, "run") or entry.summary
        return entry.summary

    def _assessed(self, entry: TimelineEntry) -> str | None:
        """A scoring decision or a hardship offer, from its details (the reasons carry their
        Chinese words); None when the details are not the core's."""
        d = entry.details
        try:
            if entry.kind == "offer":
                if d.get("offer") == "hardship_grace":
                    return self.t("tl.event.offer_grace", days=d["grace_days"])
                return self.t("tl.event.offer_plan", count=d["count"])
            reasons = [d[f"reason_{i}_zh"] for i in (1, 2, 3) if f"reason_{i}_zh" in d]
            groups = {k: d[k] for k in ("scorecard", "score", "segment", "treatment")}
            return self.t("tl.event.assessment", reasons="；".join(reasons), **self._groups(groups))
        except (KeyError, IndexError, ValueError):
            return None

    def _note(self, text: str) -> str:
        """A note as written; a reveal's note (web/casefile.py's wording) in the viewer's words."""
        found = REVEALED.fullmatch(text) if self.zh else None
        if found is None:
            return text
        return self.t("tl.event.revealed", **self._groups(found.groupdict()))

    def _english_reply(self, entry: TimelineEntry) -> str:
        text = entry.summary.removeprefix("borrower wrote: ")
        return f"borrower wrote: {note_text(text)}"


def words_for(t: Translator, zone_of: Callable[[datetime], str]) -> Words:
    def when(iso: str) -> str:
        try:
            return zone_of(datetime.fromisoformat(iso))
        except ValueError:
            return iso

    return Words(t, when)
