"""Bar charts drawn on the server as SVG: no chart library, nothing for the phone to run.

Presentation attributes only (``fill``), no ``style``: the pages' CSP allows no inline styles.
Labels are escaped; the numbers are also in the table beside each chart, for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

BAR = 22
GAP = 8
LABEL = 96
WIDTH = 380
COLOURS = ("#1f5f8b", "#23683b", "#7a5300", "#a3261b", "#5b6675")


def bars(rows: Sequence[tuple[str, Decimal | int]], title: str, unit: str = "") -> Markup:
    """A horizontal bar per row, longest = the largest value; a value's text at the bar's end."""
    top = max((Decimal(v) for _, v in rows), default=Decimal(0))
    room = WIDTH - LABEL - 100
    height = len(rows) * (BAR + GAP) + GAP
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} '
        f'{height}" width="100%" preserveAspectRatio="xMinYMin meet">'
    ]
    for index, (label, value) in enumerate(rows):
        y = GAP + index * (BAR + GAP)
        length = int(room * Decimal(value) / top) if top > 0 else 0
        colour = COLOURS[0] if len(rows) > len(COLOURS) else COLOURS[index]
        text = f"{value}{(' ' + unit) if unit else ''}"
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + 16}" text-anchor="end" font-size="13" '
            f'fill="#1b2430">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{max(length, 1)}" height="{BAR}" rx="3" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL + max(length, 1) + 6}" y="{y + 16}" font-size="13" '
            f'fill="#1b2430">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # built from escaped labels and numbers only
