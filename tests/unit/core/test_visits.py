"""The visit time agreed with the borrower; no outcome before the slot; pauses cancel visits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models import case as c
from models.actions import ActionName as N
from models.common import Stage
from tests.unit.core.helpers import (
    BORROWER,
    OPENED,
    OPERATOR,
    SYSTEM,
    act,
    new_case,
    run_until,
    stage_of,
)
from workflows.core import effects as fx
from workflows.core.actions.visit import collectors_assigned
from workflows.core.case import Case
from workflows.core.refusal import Refusal

VISIT_DAY = OPENED + timedelta(days=18)


def at_visit() -> tuple[Case, list[fx.Effect]]:
    case = new_case()
    effects = run_until(case, VISIT_DAY)
    assert stage_of(case) is Stage.VISIT
    return case, effects


def test_slots_are_offered_in_the_contact_hours_and_collectors_requested() -> None:
    case, effects = at_visit()
    visit = case.current_visit()
    assert visit is not None and len(visit.offered) == 3 and visit.proposal_sent
    assert any(isinstance(e, fx.AssignCollectors) and e.count == 2 for e in effects)
    assert any(isinstance(e, fx.Contact) and e.step == "visit-1-proposal" for e in effects)


def accept(case: Case, now: datetime) -> datetime:
    visit = case.current_visit()
    assert visit is not None
    collectors_assigned(case, visit.visit_no, ["fc-1", "fc-2"], now)
    slot = visit.offered[1]
    act(case, N.VISIT_ANSWER, c.VisitAnswerInput(answer="accept", slot=slot), BORROWER, now)
    return slot


def test_a_borrower_accepts_an_offered_slot_and_the_visit_is_booked() -> None:
    case, _ = at_visit()
    slot = accept(case, VISIT_DAY)
    visit = case.current_visit()
    assert visit is not None and visit.scheduled_at == slot
    with pytest.raises(Refusal) as early:
        act(
            case,
            N.VISIT_OUTCOME,
            c.RecordVisitInput(outcome=c.VisitOutcome.MET),
            OPERATOR,
            VISIT_DAY,
        )
    assert early.value.code == "before_slot"
    effects = run_until(case, slot, start=VISIT_DAY)
    assert any(isinstance(e, fx.Contact) and e.step == "visit-1-reminder" for e in effects)
    act(case, N.VISIT_OUTCOME, c.RecordVisitInput(outcome=c.VisitOutcome.MET), OPERATOR, slot)
    assert stage_of(case) is Stage.NEGOTIATING


def test_a_slot_not_offered_cannot_be_accepted_but_can_be_proposed() -> None:
    case, _ = at_visit()
    other = VISIT_DAY + timedelta(days=5, hours=1)
    with pytest.raises(Refusal) as refused:
        act(
            case,
            N.VISIT_ANSWER,
            c.VisitAnswerInput(answer="accept", slot=other),
            BORROWER,
            VISIT_DAY,
        )
    assert refused.value.code == "not_offered"
    act(case, N.VISIT_ANSWER, c.VisitAnswerInput(answer="propose", slot=other), BORROWER, VISIT_DAY)
    visit = case.current_visit()
    assert visit is not None and visit.proposed_by_borrower == other


def test_a_pause_cancels_a_booked_slot_and_blocks_new_ones() -> None:
    case, _ = at_visit()
    accept(case, VISIT_DAY)
    act(case, N.DISPUTE, c.DisputeInput(action="open"), OPERATOR, VISIT_DAY)
    visit = case.current_visit()
    assert visit is not None and visit.scheduled_at is None
    with pytest.raises(Refusal) as paused:
        act(
            case,
            N.VISIT_ANSWER,
            c.VisitAnswerInput(answer="accept", slot=visit.offered[0]),
            BORROWER,
            VISIT_DAY,
        )
    assert paused.value.code == "paused"


def test_cease_contact_ends_the_visit_stage() -> None:
    case, _ = at_visit()
    act(case, N.CEASE_CONTACT, c.CeaseContactInput(reason="lawyer"), OPERATOR, VISIT_DAY)
    run_until(case, VISIT_DAY + timedelta(hours=1), start=VISIT_DAY)
    assert stage_of(case) is Stage.ESCALATED


def test_an_unanswered_proposal_alerts_once_per_window() -> None:
    case, _ = at_visit()
    effects = run_until(case, VISIT_DAY + timedelta(days=1, hours=12), start=VISIT_DAY)
    alerts = [e for e in effects if isinstance(e, fx.Alert) and e.kind == "visit_unanswered"]
    assert len(alerts) == 1


def test_an_sms_reply_keyword_accepts_an_offered_slot() -> None:
    case, _ = at_visit()
    visit = case.current_visit()
    assert visit is not None
    collectors_assigned(case, visit.visit_no, ["fc-1", "fc-2"], VISIT_DAY)
    act(
        case, N.INBOUND_MESSAGE, c.InboundMessage(provider_sid="SM-v", text="V2"), SYSTEM, VISIT_DAY
    )
    assert visit.scheduled_at == visit.offered[1] and case.s.opted_out == []
