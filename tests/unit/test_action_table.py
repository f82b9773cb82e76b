"""The action table (models/actions.py): one truth for who may do what, read by the API."""

from __future__ import annotations

import hashlib

from api import auth
from models import case as c
from models.actions import ACTIONS, ActionName, Kind, by_handler, role_refusal
from models.common import Role


def test_every_workflow_handler_is_in_the_table_with_its_contract() -> None:
    updates = {v for k, v in vars(c).items() if k.startswith("UPDATE_")}
    signals = {v for k, v in vars(c).items() if k.startswith("SIGNAL_")}
    assert set(by_handler(Kind.UPDATE)) == updates
    assert set(by_handler(Kind.SIGNAL)) == signals
    assert by_handler(Kind.SIGNAL)[c.SIGNAL_PAYMENT].input is c.PaymentInput


def test_design_rules_for_payments_and_closes() -> None:
    """DESIGN §3: payments by system and admin (a supervisor with a receipt); closes by the
    loan system and a supervisor; an operator requests, a supervisor approves."""
    payment, close = ACTIONS[ActionName.PAYMENT], ACTIONS[ActionName.CLOSE]
    assert payment.roles == {Role.SYSTEM, Role.SUPERVISOR, Role.ADMIN}
    assert payment.limited is not None and Role.SUPERVISOR in payment.limited
    assert close.roles == {Role.SYSTEM, Role.SUPERVISOR, Role.ADMIN}
    assert Role.OPERATOR in ACTIONS[ActionName.REQUEST_CHANGE].roles
    assert Role.OPERATOR not in ACTIONS[ActionName.DECIDE_REQUEST].roles
    assert Role.OPERATOR not in ACTIONS[ActionName.AMOUNT_UPDATE].roles


def test_borrower_is_an_actor_never_an_api_key_role() -> None:
    assert Role.BORROWER in ACTIONS[ActionName.NEGOTIATION].roles
    for name in ActionName:
        assert Role.BORROWER not in auth.roles_for(name)
        assert not auth.allowed(Role.BORROWER, name)
    digest = hashlib.sha256(b"k").hexdigest()
    assert auth.resolve_key("k", {digest: ("someone", "borrower")}) is None
    assert auth.resolve_key("k", {digest: ("someone", "operator")}) is not None


def test_phrases_in_both_languages_and_refusal_sentences() -> None:
    for spec in ACTIONS.values():
        assert spec.phrase("en") and spec.phrase("zh-CN")
    assert auth.PHRASES[auth.Action.PAYMENT] == "record payments"
    sentence = role_refusal(Role.AUDITOR, ActionName.PAYMENT)
    assert sentence == (
        "Role 'auditor' may not record payments; it needs one of: system, supervisor, admin."
    )
    assert "不能登记还款" in role_refusal(Role.AUDITOR, ActionName.PAYMENT, "zh-CN")
