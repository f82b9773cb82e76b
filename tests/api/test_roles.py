"""Every protected route x every role: allowed roles get through, the others 403; no key or an
unknown key is 401 (issue test 3). Case routes use a loan with no case, so an allowed role's
answer is the 404 that comes after authorisation."""

from __future__ import annotations

from typing import Any

from api.schemas import first_example
from tests.api.conftest import ROLES, ApiHarness

OPERATORS = {"operator", "supervisor", "admin"}
READERS = {"operator", "supervisor", "auditor", "admin"}
CASE = "/v1/cases/L-no-such-case"

# (method, path, body, roles allowed) — the role table of DESIGN §3, written out independently
# of api/auth.py so that a change there has to change this too.
ROUTES: list[tuple[str, str, str | None, set[str]]] = [
    ("POST", "/v1/overdue-events", "overdue_event", {"system", "admin"}),
    ("GET", "/v1/cases", None, READERS),
    ("GET", CASE, None, READERS),
    ("GET", f"{CASE}/history", None, READERS),
    ("GET", f"{CASE}/export", None, {"supervisor", "auditor", "admin"}),
    # A supervisor passes the role check; the case asks for a receipt reference (DESIGN §3).
    ("POST", f"{CASE}/payments", "payment", {"system", "supervisor", "admin"}),
    ("POST", f"{CASE}/visits", "schedule_visit", OPERATORS),
    ("POST", f"{CASE}/visits/outcome", "visit_outcome", OPERATORS),
    ("POST", f"{CASE}/negotiation", "negotiation", OPERATORS),
    ("POST", f"{CASE}/hardship", "hardship", OPERATORS),
    ("POST", f"{CASE}/dispute", "dispute", OPERATORS),
    ("POST", f"{CASE}/notes", "note", OPERATORS),
    ("POST", f"{CASE}/cease-contact", "cease_contact", OPERATORS),
    ("POST", f"{CASE}/escalation", "escalation", {"supervisor", "admin"}),
    # The loan system (recall, deceased, bankruptcy) or a supervisor; an operator requests.
    ("POST", f"{CASE}/close", "close", {"system", "supervisor", "admin"}),
]


def _body(api: ApiHarness, example: str | None) -> dict[str, Any] | None:
    if example is None:
        return None
    if example == "overdue_event":
        return api.overdue_event(strategy="slow")  # a fresh loan per request
    return first_example(example)


async def test_role_matrix(api: ApiHarness) -> None:
    """Each route answers 403 to each role outside its table and lets the others through."""
    problems = []
    for method, path, example, allowed in ROUTES:
        for role in ROLES:
            headers = api.auth(role)
            response = await api.http.request(
                method, path, json=_body(api, example), headers=headers
            )
            code = response.status_code
            expected_ok = role in allowed
            if expected_ok and code in (401, 403, 422):
                problems.append(f"{role} {method} {path}: {code} {response.text}")
            if not expected_ok and code != 403:
                problems.append(f"{role} {method} {path}: {code}, expected 403")
            if expected_ok and path == "/v1/overdue-events" and code != 202:
                problems.append(f"{role} {method} {path}: {code} {response.text}")
            if expected_ok and path.startswith(CASE) and code != 404:
                problems.append(f"{role} {method} {path}: {code}, expected 404 after auth")
    assert not problems, "\n".join(problems)


async def test_no_key_or_unknown_key_is_401_everywhere(api: ApiHarness) -> None:
    """Without a key, with an unknown one, or with a non-Bearer scheme: 401 on every route."""
    for method, path, example, _ in ROUTES:
        for headers in (
            {},
            {"Authorization": "Bearer not-a-key"},
            {"Authorization": "Basic ZGV2LWFkbWluOg=="},
            {"Authorization": "Bearer dev-admin"},  # demo keys only work in development
        ):
            response = await api.http.request(
                method, path, json=_body(api, example), headers=headers
            )
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_open_routes_need_no_key(api: ApiHarness) -> None:
    """Health, metrics and the OpenAPI document are open; webhooks use Twilio's signature."""
    assert (await api.http.get("/healthz")).status_code == 200
    assert (await api.http.get("/metrics")).status_code == 200
    assert (await api.http.get("/openapi.json")).status_code == 200
    unsigned = await api.http.post("/webhooks/twilio/status", data={"MessageSid": "SM1"})
    assert unsigned.status_code == 403
