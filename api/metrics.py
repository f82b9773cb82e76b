"""Prometheus counters of the API. Module-level: one set per process, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

CASES_STARTED = Counter(
    "collectflow_cases_started",
    "Cases started by an overdue event, by strategy.",
    ["strategy"],
)
OVERDUE_EVENTS = Counter(
    "collectflow_overdue_events",
    "Overdue events received, by result (started, existing, closed).",
    ["result"],
)
ACTIONS = Counter(
    "collectflow_case_actions",
    "Case actions (workflow updates) by route and HTTP status.",
    ["route", "status"],
)
WEBHOOKS = Counter(
    "collectflow_twilio_webhooks",
    "Twilio webhooks by kind and result (signalled, ledger, duplicate, ignored, forbidden).",
    ["kind", "result"],
)
REQUESTS = Counter(
    "collectflow_http_requests",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
