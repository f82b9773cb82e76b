"""A contact effect as the messaging activity's input: the template rendered in the
borrower's language with the case's figures. Pure; the shell runs the activity."""

from __future__ import annotations

from datetime import datetime

from models import activities as act
from models.case import money_str
from models.common import Borrower, Channel, Loan
from models.strategy import render
from workflows.core import clock
from workflows.core import effects as fx
from workflows.core.case import Case


def fields(case: Case, borrower: Borrower, extra: dict[str, str]) -> dict[str, str]:
    s, strategy = case.s, case.strategy
    company = strategy.company_name_zh if s.locale == "zh-CN" else strategy.company_name
    # Since the vault the input holds no name: ``{name}`` stays for the activity to fill.
    named = {"name": borrower.name} if borrower.carries_pii else {}
    return {
        **named,
        "company": company,
        "amount": money_str(s.balance),
        "currency": s.currency,
        "due_date": s.due_date.isoformat(),
        "days": str(strategy.negotiation.promise_within_days),
        **extra,
    }


def activity_input(
    case: Case, borrower: Borrower, contact: fx.Contact
) -> tuple[str, act.SendSmsInput | act.PlaceCallInput]:
    """The activity's name and input for one contact the gate allowed."""
    text = render(
        case.strategy.templates[contact.template],
        case.s.locale,
        fields(case, borrower, contact.extra),
    )
    common = {
        "key": contact.key,
        "case_id": case.s.case_id,
        "loan_id": case.s.loan_id,
        "to": contact.to,
        "purpose": contact.step,
        "locale": case.s.locale,
    }
    if not borrower.carries_pii:  # the activity resolves the number and name from the vault
        common |= {"borrower_id": borrower.id, "template": contact.template}
    if contact.channel is Channel.SMS:
        return act.SEND_SMS, act.SendSmsInput(body=text, **common)
    return act.PLACE_CALL, act.PlaceCallInput(message=text, **common)


def alert_input(case: Case, alert: fx.Alert) -> act.SupervisorAlert:
    s = case.s
    return act.SupervisorAlert(
        key=alert.key, case_id=s.case_id, loan_id=s.loan_id, kind=alert.kind, message=alert.message
    )


def assign_input(case: Case, ask: fx.AssignCollectors) -> act.AssignAgentsInput:
    return act.AssignAgentsInput(
        case_id=case.s.case_id, region=ask.region, visit_day=ask.day, count=ask.count
    )


def legal_input(
    case: Case, loan: Loan, borrower: Borrower, handoff: fx.LegalHandoff, now: datetime
) -> act.LegalHandoffInput:
    s = case.s
    return act.LegalHandoffInput(
        case_id=s.case_id,
        loan=loan,
        borrower=borrower,
        balance=s.balance,
        days_past_due=clock.dpd(s, case.strategy, now),
        approved_by=handoff.approved_by,
    )


def index_values(case: Case, now: datetime) -> tuple[str, int, str, tuple[str, ...], float]:
    """What the search attributes hold: stage, days past due, region, collectors, balance."""
    s = case.s
    dpd = clock.dpd(s, case.strategy, now)
    return (s.stage.value, dpd, s.region, tuple(s.assigned_agents), float(s.balance))
