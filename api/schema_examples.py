"""The examples the HTTP API shows at ``/docs`` for each request body (and its schema's
``examples``), kept apart from the bodies themselves (``api/schemas.py``)."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

BORROWER_EXAMPLE: dict[str, Any] = {
    "id": "B-77",
    "name": "王芳",
    "phone": "+8613800138000",
    "timezone": "Asia/Shanghai",
    "locale": "zh-CN",
    "region": "hz-west",
    "address": "杭州市西湖区文三路 1 号",
    "consent": {"sms": True, "call": True},
}
OVERDUE_EXAMPLE: dict[str, Any] = {
    "loan_id": "L-1001",
    "currency": "CNY",
    "amount_overdue": "1530.50",
    "outstanding_balance": "9800.00",
    "due_date": "2026-11-20",
    "strategy": "default",
    "borrower": BORROWER_EXAMPLE,
}

# Named request examples per body: /docs shows them, and the tests send the first of each.
EXAMPLES: dict[str, dict[str, Example]] = {
    "overdue_event": {
        "new_loan": Example(summary="A loan falls overdue", value=OVERDUE_EXAMPLE),
        "champion_challenger": Example(
            summary="No strategy: champion/challenger by loan id",
            value={k: v for k, v in OVERDUE_EXAMPLE.items() if k != "strategy"},
        ),
    },
    "payment": {
        "partial": Example(
            summary="A partial payment",
            value={
                "payment_ref": "P-9",
                "amount": "500.00",
                "paid_at": "2026-11-30T10:00:00+08:00",
            },
        )
    },
    "schedule_visit": {
        "confirm": Example(
            summary="Confirm the visit with two collectors",
            value={"at": "2026-12-10T10:00:00+08:00", "collectors": ["A-1", "A-2"]},
        )
    },
    "visit_outcome": {
        "met": Example(
            summary="Met the borrower",
            value={"outcome": "met", "notes": "Borrower lost her job in October; calm talk."},
        ),
        "not_home": Example(summary="Nobody at home", value={"outcome": "not_home"}),
    },
    "negotiation": {
        "plan": Example(
            summary="An installment plan",
            value={
                "reason": "unemployment",
                "monthly_income": "3000.00",
                "essential_expenses": "2200.00",
                "result": "installment_plan",
                "plan": {"count": 3, "frequency_days": 30, "first_due_in_days": 7},
            },
        ),
        "promise": Example(
            summary="A promise to pay",
            value={
                "reason": "forgot",
                "result": "promise",
                "promise": {"amount": "1530.50", "due_in_days": 5},
            },
        ),
        "grace": Example(
            summary="A hardship grace period",
            value={"reason": "illness", "result": "hardship_grace", "grace_days": 14},
        ),
    },
    "hardship": {
        "pause": Example(summary="Pause for 14 days", value={"days": 14, "reason": "in hospital"})
    },
    "dispute": {
        "open": Example(
            summary="The borrower disputes the amount",
            value={"action": "open", "reason": "says the last installment was paid in cash"},
        ),
        "resolve": Example(
            summary="Dispute rejected after review",
            value={"action": "resolve", "resolution": "rejected", "reason": "no cash receipt"},
        ),
    },
    "note": {
        "note": Example(summary="A note", value={"text": "Borrower asked for a call after 18:00."})
    },
    "cease_contact": {
        "request": Example(
            summary="The borrower asked us to stop contacting her",
            value={"reason": "written request received 2026-11-29"},
        )
    },
    "escalation": {
        "settlement": Example(
            summary="Offer a settlement",
            value={"decision": "settlement", "settlement_amount": "1200.00"},
        ),
        "legal": Example(summary="Approve legal action", value={"decision": "legal"}),
    },
    "close": {
        "deceased": Example(
            summary="Close: borrower deceased",
            value={"reason": "deceased", "notes": "death certificate received"},
        )
    },
}


def first_example(name: str) -> dict[str, Any]:
    example = next(iter(EXAMPLES[name].values()))
    return dict(example.get("value") or {})


def examples_of(name: str) -> dict[str, Any]:
    return {"examples": [e.get("value") for e in EXAMPLES[name].values()]}
