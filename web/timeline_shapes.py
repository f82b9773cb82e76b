"""The shapes of the core's English summaries the screens know how to say in zh-CN: each a
pattern whose named groups fill the catalogue's ``tl.*`` string of the same key. When the core's
wording changes, the shape stops matching and the screen shows the English (the tests on the
committed histories notice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from workflows.core.refusal import SENTENCES

Shapes = tuple[tuple[str, str], ...]

# The core's case-event summaries (workflows/core), by kind: (pattern, tl.* key).
CASE_EVENTS: Mapping[str, Shapes] = {
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
WORKFLOW: Shapes = (
    (r"case started on strategy (?P<s>\S+) v(?P<v>\d+)", "started"),
    (r"run (?P<n>\d+) started on strategy (?P<s>\S+) v(?P<v>\d+)", "run_started"),
    (r"continued as new run (?P<ref>\S+)", "continued"),
    (r"case completed in stage (?P<stage>\w+), balance (?P<balance>\S+)", "completed"),
    (r"timer (?P<ref>\S+) started; fires at (?P<at>\S+)", "timer_started"),
    (r"timer (?P<ref>\S+) fired", "timer_fired"),
    (r"timer (?P<ref>\S+) cancelled \(the wait ended early\)", "timer_cancelled"),
)
# Why a case moved stage or its amount changed (workflows/core: ``enter`` and ``set_amount``).
WHY: Shapes = (
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
GATE: Shapes = (
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
    # a treatment's lighter cadence (workflows/core/treatments.py)
    (r"the (?P<treatment>\w+) treatment sends (?P<n>\d+) reminders", "treatment_reminders"),
    (r"the (?P<treatment>\w+) treatment sends SMS only", "treatment_sms_only"),
    # the caps count the borrower's other loans (workflows/core/contacts.py names them)
    (r"counting (?P<n>\d+) (?P<channel>\w+) contacts? on other loans", "other_loans"),
)


def _template_regex(template: str) -> re.Pattern[str]:
    """A refusal's English sentence as a pattern whose groups are its parameters."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$", re.DOTALL)


REFUSALS = {code: (_template_regex(en), zh) for code, (en, zh) in SENTENCES.items()}
