"""A contact effect as the messaging activity's input: the template rendered in the
borrower's language with the case's figures. Pure; the shell runs the activity."""

from __future__ import annotations

from models import activities as act
from models.case import money_str
from models.common import Borrower, Channel
from models.strategy import render
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
