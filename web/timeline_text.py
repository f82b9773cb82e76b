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
from collections.abc import Callable, Mapping
from datetime import datetime

from audit.timeline import TimelineEntry
from models.actions import Kind, by_handler
from web.i18n import Translator
from workflows.core.refusal import SENTENCES

NOTE_KINDS = frozenset({"note", "archived_note"})
HIDDEN_FIELDS = frozenset({"update_id", "identity"})
PHRASES = {
    **{name: s.phrase_zh for name, s in by_handler(Kind.UPDATE).items()},
    **{name: s.phrase_zh for name, s in by_handler(Kind.SIGNAL).items()},
}
Show = Callable[[str], str]  # a captured group as the viewer should read it


def note_text(text: str) -> str:
    """The one place a note's text reaches a screen."""
    return text


# The core's case-event summaries (workflows/core), by kind: (pattern, tl.* key).
CASE_EVENTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "opened": ((r"case opened on strategy (?P<s>\S+) v(?P<v>\d+)", "opened"),),
    "stage": ((r"(?P<stage>[a-z_]+) -> (?P<stage2>[a-z_]+): (?P<why>.*)", "stage"),),
    "closed": ((r"(?P<stage>[a-z_]+) -> (?P<stage2>[a-z_]+): (?P<why>.*)", "stage"),),
    "contact": (
        (r"(?P<channel>\w+) (?P<step>\S+): sent", "sent"),
        (r"(?P<channel>\w+) (?P<step>\S+): deferred until (?P<at>\S+) \((?P<reason>.*)\)",
         "deferred"),
        (r"(?P<channel>\w+) (?P<step>\S+): not sent \((?P<reason>.*)\)", "not_sent"),
        (r"operator (?P<channel>\w+) logged: (?P<call>\w+)", "logged"),
        (r"(?P<channel>\w+) (?P<step>\S+): provider status (?P<status>\S+)", "status"),
    ),
    "request": (
        (r"request (?P<no>\d+): (?P<req>\w+) awaits a supervisor", "request"),
        (r"request (?P<no>\d+) (?P<verdict>approved|declined)", "decided"),
    ),
    "escalation": (
        (r"supervisor decided: (?P<decision>\w+)", "supervisor"),
        (r"case file handed to legal \((?P<ref>.*)\)", "legal"),
    ),
    "visit": (
        (r"visit (?P<no>\d+) booked for (?P<at>\S+)", "booked"),
        (r"visit (?P<no>\d+): (?P<n>\d+) slots offered", "offered"),
        (r"visit (?P<no>\d+): borrower proposed a time", "proposed"),
        (r"visit (?P<no>\d+): borrower asked to reschedule", "reschedule"),
        (r"visit (?P<no>\d+) outcome: (?P<visit>\w+)", "visit_outcome"),
        (r"visit (?P<no>\d+): (?P<n>\d+) collectors assigned", "assigned"),
        (r"visit (?P<no>\d+) slot cancelled: (?P<reason>.*)", "cancelled"),
    ),
    "note": ((r"borrower wrote: (?P<note>.*)", "wrote"),),
    "callback": ((r"borrower asked for a call back \(IVR key 2\)", "callback"),),
    "payment": (
        (r"payment (?P<ref>\S+) of (?P<amount>\S+); balance (?P<balance>\S+)", "payment"),
        (r"late payment (?P<ref>\S+) of (?P<amount>\S+); balance (?P<balance>\S+)", "late"),
    ),
    "amount": ((r"amount overdue (?P<old>\S+) -> (?P<new>\S+): (?P<why>.*)", "amount"),),
    "negotiation": (
        (r"negotiation (?P<no>\d+): reason (?P<dr>\w+), result (?P<res>\w+)", "negotiation"),
        (r"installment plan (?P<no>\d+): (?P<n>\d+) x ~(?P<amount>\S+) every (?P<days>\d+) days",
         "plan"),
    ),
    "promise": (
        (r"promise (?P<no>\d+): (?P<amount>\S+) by (?P<day>\S+) \((?P<k>[^)]*)\)", "promise"),
        (r"(?P<label>.+) kept", "kept"),
        (r"(?P<label>.+) broken", "broken"),
    ),
    "hardship": (
        (r"hardship pause of (?P<n>\d+) days until (?P<at>\S+): (?P<reason>.*)", "hardship"),
    ),
    "resumed": ((r"pause over; deadlines moved by (?P<shift>.*)", "resumed"),),
    "dispute": (
        (r"dispute opened: (?P<reason>.*)", "dispute"),
        (r"dispute resolved \((?P<res>.*)\)", "resolved"),
    ),
    "preference": (
        (r"cease-contact: (?P<reason>.*)", "cease"),
        (r"borrower opted out of (?P<channel>\w+): (?P<reason>.*)", "opt_out"),
        (r"borrower opted back in to (?P<channel>\w+): (?P<reason>.*)", "opt_in"),
    ),
    "agents": ((r"(?P<n>\d+) agents assigned", "agents"),),
}  # fmt: skip
WORKFLOW: tuple[tuple[str, str], ...] = (
    (r"case started on strategy (?P<s>\S+) v(?P<v>\d+)", "started"),
    (r"run (?P<n>\d+) started on strategy (?P<s>\S+) v(?P<v>\d+)", "run_started"),
    (r"continued as new run (?P<ref>\S+)", "continued"),
    (r"case completed in stage (?P<stage>\w+), balance (?P<balance>\S+)", "completed"),
    (r"timer (?P<ref>\S+) started; fires at (?P<at>\S+)", "timer_started"),
    (r"timer (?P<ref>\S+) fired", "timer_fired"),
    (r"timer (?P<ref>\S+) cancelled \(the wait ended early\)", "timer_cancelled"),
)
# Why a case moved stage or its amount changed (workflows/core: ``enter`` and ``set_amount``).
WHY: tuple[tuple[str, str], ...] = (
    (r"reminder cadence complete", "reminders_done"),
    (r"promise to pay agreed", "promise_agreed"),
    (r"installment plan agreed", "plan_agreed"),
    (r"hardship grace agreed", "grace_agreed"),
    (r"no payment or promise after the wait", "no_payment"),
    (r"supervisor ordered another visit", "another_visit"),
    (r"met the borrower", "met"),
    (r"commitments met but a balance remains", "balance_remains"),
    (r"paid in full", "paid"),
    (r"settlement amount paid", "settled"),
    (r"settlement offered", "settlement"),
    (r"supervisor approved legal action", "legal"),
    (r"supervisor wrote the balance off", "write_off"),
    (r"promise to pay on a logged call", "call_promise"),
    (r"borrower promised to pay \(IVR key 1\)", "ivr_promise"),
    (r"borrower refused to pay", "refused"),
    (r"cease-contact is in force: no visit is possible", "cease"),
    (r"no negotiation result in time", "no_result"),
    (r"the visit limit of the strategy is reached", "visit_limit"),
    (r"visit outcome (?P<visit>\w+)", "visit_outcome"),
    (r"dispute upheld: the debt is not owed", "dispute_upheld"),
    (r"(?P<label>.+) broken; (?P<n>\d+) in all", "broken_count"),
    (r"(?P<label>.+) broken; renegotiating", "renegotiate"),
    (r"(?P<label>.+) broken; arranging a visit", "arrange_visit"),
    (r"(?P<close>\w+): requested by (?P<who>\S+), approved", "close_approved"),
    (r"correction requested by (?P<who>\S+), approved", "correction_approved"),
    (r"the loan system's new figure", "loan_system"),
    (r"repeat overdue event", "repeat_event"),
)
# web/casefile.py's reveal_note: who revealed which detail and why, as a note on the case.
REVEALED = re.compile(r"revealed the borrower's (?P<detail>\w+) — why: (?P<note>.*)", re.DOTALL)
LABEL = r"commitment (?P<no>\d+) \((?P<ck>\w+), (?P<amount>\S+) due (?P<day>\S+)\)"
# The contact rules' reasons (workflows/core/compliance.py), joined by "; " when several.
GATE: tuple[tuple[str, str], ...] = (
    (r"the case is closed", "closed"),
    (r"the borrower asked us to cease contact", "cease"),
    (r"no consent to contact by (?P<channel>\w+)", "consent"),
    (r"the borrower opted out of (?P<channel>\w+)", "opted_out"),
    (r"a dispute is open; contact is paused until it is resolved", "dispute"),
    (r"hardship pause", "hardship"),
    (r"SMS daily cap", "sms_day"),
    (r"SMS 7-day cap", "sms_week"),
    (r"no call within 7 days of a conversation", "call_after_talk"),
    (r"7 calls in 7 days", "calls_week"),
    (r"connected calls daily cap", "connected_day"),
    (r"unanswered calls daily cap", "unanswered_day"),
    (r"outside the borrower's contact hours", "hours"),
    (r"no allowed time found within the rules", "no_time"),
    (r"(?P<rule>.+) is set to zero", "zero"),
    # the caps count the borrower's other loans (workflows/core/contacts.py names them)
    (r"counting (?P<n>\d+) (?P<channel>\w+) contacts? on other loans", "other_loans"),
)


def _template_regex(template: str) -> re.Pattern[str]:
    """A refusal's English sentence as a pattern whose groups are its parameters."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$", re.DOTALL)


REFUSALS = {code: (_template_regex(en), zh) for code, (en, zh) in SENTENCES.items()}


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
        }
        return {k: shows.get(k, str)(v) for k, v in groups.items()}

    def _match(self, shapes: tuple[tuple[str, str], ...], text: str, prefix: str) -> str | None:
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
            f"{k}={note_text(v) if k == 'text' else v}"
            for k, v in entry.details.items()
            if k not in HIDDEN_FIELDS and k != "decode_problem"
        )
        if not self.zh:
            by = f" by {entry.actor_id} ({entry.actor_role})" if entry.actor_id else ""
            return f"{entry.source} {entry.kind}{by}" + (f": {fields}" if fields else "")
        what = PHRASES.get(entry.kind, entry.kind)
        by = (
            f"{entry.actor_id}（{self.word('role', entry.actor_role or '')}）"
            if entry.actor_id
            else ""
        )
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
        return self.word("role", role or "") if self.zh else role or ""

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
            shapes = CASE_EVENTS.get(entry.kind, ())
            return self._match(shapes, entry.summary, "event") or entry.summary
        if entry.source in ("workflow", "timer"):
            return self._match(WORKFLOW, entry.summary, "run") or entry.summary
        return entry.summary

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
