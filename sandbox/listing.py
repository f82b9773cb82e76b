"""Twilio's list endpoints: ``GET Messages.json`` and ``GET Calls.json``, filtered and paged.

Twilio filters messages by ``To``/``From`` and ``DateSent`` (``DateSent>`` and ``DateSent<``
arrive as the query names ``DateSent>``/``DateSent<``: the ``=`` of the query string makes them
"on or after" / "on or before"), calls by ``To``/``From``/``Status`` and ``StartTime``. A record
whose date is still empty (a message not yet sent, a call not yet dialled) never matches a date
filter. Values are either a day (``2026-12-01``: the whole day) or an instant
(``2026-12-01T10:00:00Z``). Newest first; ``PageSize`` (default 50, at most 1000) and ``Page``
page through it, and every page names ``next_page_uri`` until the last, as Twilio's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from sandbox.resources import TwilioApiError

# What the sandbox keeps beside a resource that Twilio's REST answers never show.
PRIVATE = ("twiml", "status_callback")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Twilio's own code for a filter it cannot parse.
INVALID_PARAMETER = 20001


@dataclass(frozen=True)
class ListKind:
    key: str  # "messages" | "calls": the JSON list key
    date_field: str  # "date_sent" | "start_time"
    date_param: str  # "DateSent" | "StartTime"
    equal_filters: tuple[tuple[str, str], ...]  # (query name, resource field)


MESSAGES = ListKind("messages", "date_sent", "DateSent", (("To", "to"), ("From", "from")))
CALLS = ListKind(
    "calls", "start_time", "StartTime", (("To", "to"), ("From", "from"), ("Status", "status"))
)


def twilio_view(item: dict[str, Any]) -> dict[str, Any]:
    """The resource exactly as Twilio's API returns it."""
    return {k: v for k, v in item.items() if k not in PRIVATE}


def list_page(
    kind: ListKind, items: list[dict[str, Any]], query: QueryParams, path: str
) -> dict[str, Any]:
    """One page of ``items`` (oldest first, as stored) in Twilio's list shape."""
    keep = _filter(kind, query)
    matched = [item for item in reversed(items) if keep(item)]
    size = _int(query, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int(query, "Page", 0, 0, 10**6)
    start = page * size
    records = [twilio_view(item) for item in matched[start : start + size]]
    base = {k: v for k, v in query.multi_items() if k not in ("Page", "PageSize", "PageToken")}

    def uri(number: int) -> str:
        params = {**base, "PageSize": str(size), "Page": str(number)}
        if number > 0 and start > 0:
            params["PageToken"] = f"PA{matched[start - 1]['sid']}"
        return f"{path}?{urlencode(params)}"

    more = start + size < len(matched)
    next_params = {**base, "PageSize": str(size), "Page": str(page + 1)}
    if records:
        next_params["PageToken"] = f"PA{records[-1]['sid']}"
    return {
        kind.key: records,
        "end": start + len(records) - 1 if records else start,
        "first_page_uri": uri(0),
        "next_page_uri": f"{path}?{urlencode(next_params)}" if more else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }


def _filter(kind: ListKind, query: QueryParams) -> Callable[[dict[str, Any]], bool]:
    equal = [(field, query[name]) for name, field in kind.equal_filters if query.get(name)]
    on = _bound(query, kind.date_param, "on")
    after = _bound(query, f"{kind.date_param}>", "after")
    before = _bound(query, f"{kind.date_param}<", "before")

    def keep(item: dict[str, Any]) -> bool:
        if any(item.get(field) != value for field, value in equal):
            return False
        if on is None and after is None and before is None:
            return True
        raw = item.get(kind.date_field)
        if not raw:  # an empty date matches no date filter
            return False
        moment = parsedate_to_datetime(str(raw))
        return all(test(moment) for test in (on, after, before) if test is not None)

    return keep


def _bound(query: QueryParams, name: str, how: str) -> Callable[[datetime], bool] | None:
    raw = query.get(name)
    if not raw:
        return None
    first, last = _span(raw.strip(), name)
    if how == "after":
        return lambda moment: moment >= first
    if how == "before":
        return lambda moment: moment <= last
    return lambda moment: first <= moment <= last


def _span(raw: str, name: str) -> tuple[datetime, datetime]:
    """A day covers itself whole; an instant is a point (Twilio keeps whole seconds)."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            first = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return first, first + timedelta(days=1) - timedelta(seconds=1)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        message = f"Invalid {name}: {raw!r} is neither YYYY-MM-DD nor YYYY-MM-DDThh:mm:ssZ"
        raise TwilioApiError(400, INVALID_PARAMETER, message) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, moment


def _int(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise TwilioApiError(400, INVALID_PARAMETER, f"Invalid {name}: {raw!r}") from exc
    if not low <= value <= high:
        raise TwilioApiError(400, INVALID_PARAMETER, f"{name} must be {low}..{high}")
    return value
