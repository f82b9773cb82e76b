"""Bounded state: no caller can grow a case without end; what leaves goes to the read model."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from models import case as c
from models.actions import ActionName as N
from tests.unit.core.helpers import OPENED, OPERATOR, SYSTEM, act, new_case
from workflows.core import effects as fx
from workflows.core.state import NOTES_KEPT, PAYMENTS_KEPT, CaseState


def test_two_hundred_long_notes_keep_the_state_small() -> None:
    case = new_case()
    archived = []
    for i in range(200):
        effects = act(
            case, N.NOTE, c.NoteInput(text="x" * 4000), OPERATOR, OPENED + timedelta(minutes=i)
        )
        archived += [e for e in effects if isinstance(e, fx.Event) and e.kind == "archived_note"]
    assert len(case.s.notes) == NOTES_KEPT and len(archived) == 200 - NOTES_KEPT
    size = len(case.s.model_dump_json())
    assert size < 512 * 1024  # well under Temporal's 2 MiB payload limit


def test_many_payments_are_all_counted_and_the_oldest_archived() -> None:
    case = new_case(amount="100000.00")
    archived: set[str] = set()
    for i in range(120):
        inp = c.PaymentInput(payment_ref=f"P-{i}", amount=Decimal("1.00"), paid_at=OPENED)
        effects = act(case, N.PAYMENT, inp, SYSTEM, OPENED)
        events = [e for e in effects if isinstance(e, fx.Event)]
        archived |= {e.details["payment_ref"] for e in events if e.kind == "archived_payment"}
    assert case.s.paid_total == Decimal("120.00") and len(case.s.payments) == PAYMENTS_KEPT
    assert archived | {p.payment_ref for p in case.s.payments} == {f"P-{i}" for i in range(120)}


def test_the_state_survives_a_round_trip_as_continue_as_new_carries_it() -> None:
    case = new_case()
    act(case, N.NOTE, c.NoteInput(text="carried"), OPERATOR, OPENED)
    again = CaseState.model_validate_json(case.s.model_dump_json())
    assert again == case.s
