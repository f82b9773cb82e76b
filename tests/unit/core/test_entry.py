"""The shell-facing entry points driven the way a thin shell would: the happy path from the
first reminder to a visit, a plan of three and payment in full, with no server."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from models import case as c
from models.actions import ActionName as N
from models.case import ContactOutcome
from models.common import Stage
from tests.factories import borrower, default_strategy, loan
from tests.unit.core.helpers import BORROWER, OPENED, OPERATOR, SYSTEM, stage_of
from workflows.core import effects as fx
from workflows.core import entry, view
from workflows.core.case import Case
from workflows.core.refusal import Refusal


class Shell:
    """The loop DESIGN §3 describes, minus Temporal: wait once, hand back, run effects."""

    def __init__(self) -> None:
        self.case = entry.start(
            "case-E",
            loan(amount="900.00", due=OPENED.date()),
            borrower(),
            default_strategy(),
            OPENED,
        )
        self.now = OPENED
        self.sent: list[fx.Contact] = []
        self.run(entry.on_timer(self.case, self.now))

    def run(self, effects: list[fx.Effect]) -> None:
        for e in effects:
            if isinstance(e, fx.Contact):
                self.sent.append(e)
                entry.contact_reported(
                    self.case, e.key, ContactOutcome.DELIVERED, f"SM{len(self.sent)}"
                )
            elif isinstance(e, fx.AssignCollectors):
                entry.collectors_assigned(self.case, e.visit_no, ["fc-1", "fc-2"], self.now)

    def until(self, when: datetime) -> None:
        while not entry.finished(self.case):
            wait = entry.next_wait(self.case, self.now)
            if wait.until is None or wait.until > when:
                break
            self.now = wait.until
            self.run(entry.on_timer(self.case, self.now))
        self.now = when

    def act(self, name: N, inp: object, actor: object) -> entry.Receipt:
        entry.validate(self.case, name, inp, actor, self.now)  # type: ignore[arg-type]
        self.run(entry.handle(self.case, name, inp, actor, self.now))  # type: ignore[arg-type]
        return entry.receipt(self.case, self.now)


def test_happy_path_through_the_entry_points() -> None:
    shell = Shell()
    shell.until(OPENED + timedelta(days=18))
    assert stage_of(shell.case) is Stage.VISIT
    visit = shell.case.current_visit()
    assert visit is not None
    slot = visit.offered[0]
    shell.act(N.VISIT_ANSWER, c.VisitAnswerInput(answer="accept", slot=slot), BORROWER)
    shell.until(slot)
    shell.act(N.VISIT_OUTCOME, c.RecordVisitInput(outcome=c.VisitOutcome.MET), OPERATOR)
    terms = c.PlanTerms(count=3, frequency_days=7, first_due_in_days=2)
    plan = c.NegotiationInput(
        reason=c.DefaultReason.ILLNESS, result=c.NegotiationResult.INSTALLMENT_PLAN, plan=terms
    )
    answer = shell.act(N.NEGOTIATION, plan, OPERATOR)
    assert answer.stage is Stage.FOLLOW_UP and answer.next_wait == "commitment_reminder"
    for i, item in enumerate(list(shell.case.s.commitments)):
        shell.until(item.due_at - timedelta(hours=6))
        paid = c.PaymentInput(payment_ref=f"P-{i}", amount=item.amount, paid_at=shell.now)
        answer = shell.act(N.PAYMENT, paid, SYSTEM)
    assert answer.stage is Stage.RESOLVED and answer.balance == Decimal("0")
    steps = [s.step for s in shell.sent]
    assert steps[:5] == [f"reminder-{i}" for i in range(5)]
    assert "visit-1-proposal" in steps and "visit-1-reminder" in steps and steps[-1] == "thank-you"
    assert len(set(s.key for s in shell.sent)) == len(shell.sent)  # one key per contact


def test_a_refused_update_is_a_sentence_and_changes_nothing() -> None:
    shell = Shell()
    before = shell.case.s.model_dump()
    with pytest.raises(Refusal) as refused:
        shell.act(N.VISIT_OUTCOME, c.RecordVisitInput(outcome=c.VisitOutcome.MET), OPERATOR)
    assert refused.value.code == "stage" and shell.case.s.model_dump() == before


def test_resume_carries_the_state_into_the_next_run() -> None:
    shell = Shell()
    shell.until(OPENED + timedelta(days=4))
    carried = shell.case.s.model_copy(deep=True)
    again: Case = entry.resume(carried, shell.case.strategy)
    assert again.s.run_number == 2 and again.s.reminder_index == shell.case.s.reminder_index
    assert entry.next_wait(again, shell.now) == entry.next_wait(shell.case, shell.now)


def test_a_reopened_loans_case_follows_the_earlier_case() -> None:
    """A new generation numbers its events after the earlier case's (the read model holds one
    sequence per case id) and knows that case's payments: a redelivered one counts nothing."""
    inp = c.CaseInput(
        loan=loan(amount="900.00", due=OPENED.date()),
        borrower=borrower(),
        strategy=default_strategy(),
        generation=2,
        seq_base=41,
        earlier_payment_refs=["R-1"],
    )
    case, effects = entry.from_input(inp, "case-E", OPENED)
    opened = [view.case_event(case, e) for e in effects if isinstance(e, fx.Event)]
    assert [e.seq for e in opened] == [42]
    redelivered = c.PaymentInput(
        payment_ref="R-1", amount=Decimal("900.00"), paid_at=OPENED, actor=SYSTEM
    )
    entry.handle(case, N.PAYMENT, redelivered, SYSTEM, OPENED)
    assert (case.s.balance, case.s.payments) == (Decimal("900.00"), [])
    fresh = redelivered.model_copy(update={"payment_ref": "R-2", "amount": Decimal("100.00")})
    entry.handle(case, N.PAYMENT, fresh, SYSTEM, OPENED)
    assert case.s.balance == Decimal("800.00")
