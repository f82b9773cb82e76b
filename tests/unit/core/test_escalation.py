"""Escalation alerts at entry and deadline only; the supervisor's decisions; closing a case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import case as c
from models.actions import ActionName as N
from models.common import Stage
from tests.unit.core.helpers import (
    AUDITOR,
    BORROWER,
    OPENED,
    OPERATOR,
    SUPERVISOR,
    SYSTEM,
    act,
    new_case,
    run_until,
    stage_of,
)
from workflows.core import effects as fx
from workflows.core.actions.registry import allowed_actions
from workflows.core.case import Case
from workflows.core.refusal import Refusal


def escalated() -> tuple[Case, list[fx.Effect]]:
    case = new_case()
    refusal = c.NegotiationInput(reason=c.DefaultReason.OTHER, result=c.NegotiationResult.REFUSAL)
    return case, act(case, N.NEGOTIATION, refusal, OPERATOR, OPENED)


def test_an_escalated_case_alerts_on_entry_and_at_the_deadline_only() -> None:
    case, entry = escalated()
    later = run_until(case, OPENED + timedelta(days=30))
    kinds = [e.kind for e in [*entry, *later] if isinstance(e, fx.Alert)]
    assert kinds == ["escalation_decision", "escalation_overdue"]


def test_legal_needs_the_days_past_due_then_hands_off() -> None:
    case, _ = escalated()
    legal = c.EscalationInput(decision=c.EscalationDecision.LEGAL)
    with pytest.raises(Refusal) as early:
        act(case, N.ESCALATION, legal, SUPERVISOR, OPENED)
    assert early.value.code == "legal_dpd"
    effects = act(case, N.ESCALATION, legal, SUPERVISOR, OPENED + timedelta(days=61))
    assert stage_of(case) is Stage.LEGAL
    assert fx.LegalHandoff(approved_by=SUPERVISOR) in effects


def test_an_operator_requests_a_close_and_a_supervisor_approves() -> None:
    case = new_case()
    close = c.CloseInput(reason=c.CloseReason.DECEASED)
    with pytest.raises(Refusal) as refused:
        act(case, N.CLOSE, close, OPERATOR, OPENED)
    assert refused.value.code == "role"
    request = c.ChangeRequestInput(kind="close", close_reason=c.CloseReason.DECEASED)
    act(case, N.REQUEST_CHANGE, request, OPERATOR, OPENED)
    assert stage_of(case) is Stage.REMINDING
    act(
        case, N.DECIDE_REQUEST, c.DecideRequestInput(request_no=1, approve=True), SUPERVISOR, OPENED
    )
    assert stage_of(case) is Stage.CLOSED
    with pytest.raises(Refusal) as closed:
        act(case, N.NOTE, c.NoteInput(text="after"), OPERATOR, OPENED)
    assert closed.value.code == "closed"


def test_the_loan_system_closes_a_recalled_loan() -> None:
    case = new_case()
    act(case, N.CLOSE, c.CloseInput(reason=c.CloseReason.RECALLED), SYSTEM, OPENED)
    assert stage_of(case) is Stage.CLOSED and case.s.terminal_reason == "recalled"


def test_allowed_actions_give_each_refusal_its_sentence() -> None:
    case = new_case()
    answers = {a.action: a for a in allowed_actions(case, OPERATOR, OPENED)}
    assert answers[N.NEGOTIATION].allowed  # at any open stage, wave 2
    assert answers[N.NOTE].allowed and answers[N.MANUAL_CONTACT].allowed
    refused = answers[N.ESCALATION]
    assert not refused.allowed and refused.code == "role" and refused.sentence_zh
    visit = answers[N.SCHEDULE_VISIT]
    assert visit.code == "stage" and "reminding" in visit.sentence_en
    auditor = allowed_actions(case, AUDITOR, OPENED)
    assert not any(a.allowed for a in auditor)
    borrower = {a.action for a in allowed_actions(case, BORROWER, OPENED) if a.allowed}
    assert borrower == {N.NEGOTIATION, N.DISPUTE, N.CEASE_CONTACT}


def test_another_visit_or_a_write_off_by_the_supervisor_only() -> None:
    case, _ = escalated()
    again = c.EscalationInput(decision=c.EscalationDecision.ANOTHER_VISIT)
    with pytest.raises(Refusal) as refused:
        act(case, N.ESCALATION, again, OPERATOR, OPENED)
    assert refused.value.code == "role"
    act(case, N.ESCALATION, again, SUPERVISOR, OPENED)
    assert stage_of(case) is Stage.VISIT
    with pytest.raises(Refusal) as stage:
        act(case, N.ESCALATION, again, SUPERVISOR, OPENED)
    assert stage.value.code == "stage"
    other, _ = escalated()
    write_off = c.EscalationInput(decision=c.EscalationDecision.WRITE_OFF)
    act(other, N.ESCALATION, write_off, SUPERVISOR, OPENED)
    assert stage_of(other) is Stage.WRITTEN_OFF and other.s.terminal_reason
