"""The field view's pure parts, without a server: the plan calculator, the outcome form,
recognising a resent outcome, evidence types and the SVG chart's escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models import case as c
from models.common import Actor, Role, StrategyRef
from models.strategy import NegotiationRules
from web import charts, evidence, outcomes, plans
from web.outcome_form import parse

RULES = NegotiationRules(
    min_installments=2,
    max_installments=12,
    min_installment_share=Decimal("0.10"),
    min_installment_amount=Decimal("100"),
    first_due_within_days=14,
)
ME = Actor(id="collector-1", role=Role.OPERATOR)


def test_calculator_offers_only_plans_within_the_bounds() -> None:
    """1000.00 with a 10% / 100 floor: 2-10 installments; 12 would be 83.33 each."""
    offered = plans.offered_plans(Decimal("1000.00"), RULES, "CNY")
    assert [o.count for o in offered] == list(range(2, 11))
    assert (offered[1].amount, offered[1].last) == (Decimal("333.33"), Decimal("333.34"))
    assert all(o.first_due_in_days == 7 for o in offered)


def test_affordability_keeps_plans_that_fit_what_is_left() -> None:
    """Without a share every plan fits; with the core's 50% share, 250 left a month carries
    installments up to 125.00, and each plan names the disposable income it needs."""
    balance = Decimal("1000.00")
    offered = plans.offered_plans(balance, RULES, "CNY")
    assert all(o.needs is None for o in offered)
    assert plans.affordable(offered, Decimal("50"), balance, RULES) == offered
    halves = RULES.model_copy(update={"affordable_share": Decimal("0.5")})
    offered = plans.offered_plans(balance, halves, "CNY")
    fits = plans.affordable(offered, Decimal("250"), balance, halves)
    assert [o.count for o in fits] == list(range(8, 11))  # 8 x 125.00 is the first that fits
    assert [o.count for o in offered if o.needs is not None and o.needs <= 250] == [8, 9, 10]
    assert plans.affordable(offered, Decimal("50"), balance, halves) == []
    assert plans.affordable(offered, None, balance, halves) == offered


def test_nothing_to_spread_offers_nothing() -> None:
    assert plans.offered_plans(Decimal("0"), RULES, "CNY") == []


@pytest.mark.parametrize("text", ["abc", "-5", "1e999", "NaN", "12.3.4"])
def test_money_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError):
        plans.money(text)


def _form(**fields: str) -> dict[str, str]:
    return {"ref": "a1b2c3d4e5f6", "outcome": "met", **fields}


def test_met_with_a_plan_becomes_a_negotiation() -> None:
    parsed = parse(
        _form(
            reason="illness",
            income="3000",
            expenses="1000,5",
            result="installment_plan",
            plan="3",
            first_due_in_days="7",
        )
    )
    assert parsed.errors == {} and parsed.outcome is not None
    negotiation = parsed.outcome.negotiation
    assert negotiation is not None and negotiation.plan is not None
    assert negotiation.plan.count == 3 and negotiation.essential_expenses == Decimal("10005")


def test_bad_fields_are_named() -> None:
    parsed = parse(_form(ref="x", outcome="asleep"))
    assert parsed.outcome is None
    assert parsed.errors == {"ref": "today.bad_ref", "outcome": "today.choose_outcome"}
    promised = parse(_form(reason="forgot", result="promise", promise_amount="", promise_days="3"))
    assert promised.errors == {"promise_amount": "today.bad_amount"}
    planless = parse(_form(reason="forgot", result="installment_plan"))
    assert planless.errors == {"plan": "today.choose_plan"}


def test_not_home_ignores_the_negotiation_fields() -> None:
    parsed = parse(_form(outcome="not_home", reason="illness", result="refusal"))
    assert parsed.outcome is not None and parsed.outcome.negotiation is None


def _view(**changes: object) -> c.CaseView:
    values: dict[str, object] = {
        "case_id": "case-L-1", "loan_id": "L-1", "currency": "CNY",
        "amount_overdue": Decimal("10"), "balance": Decimal("10"),
        "strategy": StrategyRef(id="default", version=1),
        "opened_at": datetime(2026, 12, 1, tzinfo=UTC), "due_date": date(2026, 11, 1),
    }  # fmt: skip
    values.update(changes)
    return c.CaseView.model_validate(values)


def test_a_resent_outcome_is_recognised_from_the_case_state() -> None:
    """The marker in the notes the case keeps (and carries over continue-as-new) is how a
    resend in a later run is known; another reference is not."""
    ref = "f00dfeed-1234"
    visit = c.VisitRecord(visit_no=1, proposed_at=datetime(2026, 12, 1, tzinfo=UTC),
                          notes=f"met at the door {outcomes.marker(ref)}")  # fmt: skip
    negotiation = c.NegotiationRecord(
        seq=1, at=datetime(2026, 12, 1, tzinfo=UTC), actor=ME,
        reason=c.DefaultReason.ILLNESS, result=c.NegotiationResult.REFUSAL,
        details={"notes": outcomes.marker(ref)},
    )  # fmt: skip
    view = _view(visits=[visit], negotiations=[negotiation])
    assert outcomes.recorded(view, ref) == {"visit", "negotiation"}
    assert outcomes.recorded(view, "another-ref-99") == set()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "photo"),
        (b"\x89PNG\r\n\x1a\n", "photo"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "photo"),
        (b"ID3\x04", "audio"),
        (b"OggS\x00", "audio"),
        (b"\x00\x00\x00\x18ftypM4A ", "audio"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio"),
    ],
)
def test_evidence_type_is_judged_by_its_bytes(head: bytes, kind: str) -> None:
    found = evidence.sniff(head + bytes(16))
    assert found is not None and found[0] == kind


@pytest.mark.parametrize("head", [b"%PDF-1.7", b"<html>", b"MZ\x90\x00", b"PK\x03\x04"])
def test_other_files_are_not_evidence(head: bytes) -> None:
    assert evidence.sniff(head + bytes(16)) is None


def test_chart_escapes_labels_and_scales_to_the_largest() -> None:
    svg = str(charts.bars([("<b>x</b>", 5), ("y", 10)], 'a "title"'))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&quot;title&quot;" in svg
    assert svg.count("<rect") == 2 and 'width="184"' in svg  # the largest bar fills the room
