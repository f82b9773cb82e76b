"""Stages as data: the one table of allowed moves, read by the core, the property test and
the README's diagram (``render_mermaid``)."""

from __future__ import annotations

from collections.abc import Mapping

from models.common import TERMINAL_STAGES, Stage

R, W, V, N, F, E = (
    Stage.REMINDING,
    Stage.WAITING,
    Stage.VISIT,
    Stage.NEGOTIATING,
    Stage.FOLLOW_UP,
    Stage.ESCALATED,
)
# From any open stage: a promise or plan (follow_up, wave 2), a refusal or the visit limit
# (escalated), paid in full, a settlement paid, or a close.
FROM_ANY_OPEN = frozenset({F, E, Stage.RESOLVED, Stage.SETTLED, Stage.CLOSED})

TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    R: FROM_ANY_OPEN | {W},  # reminder cadence complete
    W: FROM_ANY_OPEN | {V},  # no payment or promise after the wait
    V: FROM_ANY_OPEN | {N},  # met the borrower
    N: FROM_ANY_OPEN,
    F: FROM_ANY_OPEN | {N, V},  # broken: renegotiate, or visit after a broken IVR promise
    E: FROM_ANY_OPEN | {V, Stage.LEGAL, Stage.WRITTEN_OFF},  # the supervisor's decision
    **{t: frozenset() for t in TERMINAL_STAGES},
}
MAIN_PATH = (R, W, V, N, F, E)


def may_move(source: Stage, target: Stage) -> bool:
    return target in TRANSITIONS[source] - {source}


def render_mermaid() -> str:
    """The README's stage diagram, generated from ``TRANSITIONS``."""
    lines = ["stateDiagram-v2", f"    [*] --> {R.value}"]
    for source in (*MAIN_PATH, *sorted(TERMINAL_STAGES)):
        lines += [f"    {source.value} --> {t.value}" for t in sorted(TRANSITIONS[source])]
    lines += [f"    {t.value} --> [*]" for t in sorted(TERMINAL_STAGES)]
    return "\n".join(lines)


def render_ascii() -> str:
    """A plain-text form of the same table: one line per stage."""
    width = max(len(s.value) for s in Stage)
    rows = []
    for s in (*MAIN_PATH, *sorted(TERMINAL_STAGES)):
        targets = ", ".join(sorted(t.value for t in TRANSITIONS[s])) or "(terminal)"
        rows.append(f"{s.value:<{width}} -> {targets}")
    return "\n".join(rows)
