"""Payments and the amount owed. Nothing a borrower paid is refused: a payment after the end
is a late payment (a recovery on written-off or legal cases, an over-payment with a refund
due on resolved or settled ones)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models.case import PaymentInput
from models.common import Actor, Stage
from workflows.core.base import CaseBase
from workflows.core.state import PAYMENT_REFS_KEPT, ZERO, Payment

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT)}"


class Money(CaseBase):
    def has_payment(self, ref: str) -> bool:
        return ref in self.s.payment_refs

    def record_payment(self, inp: PaymentInput, now: datetime) -> None:
        s = self.s
        if self.has_payment(inp.payment_ref):
            return  # the same payment delivered again: counted once
        late = s.stage.terminal
        s.payments.append(
            Payment(
                payment_ref=inp.payment_ref,
                amount=inp.amount,
                paid_at=inp.paid_at,
                recorded_at=now,
                actor=inp.actor,
                late=late,
            )
        )
        s.payment_refs.append(inp.payment_ref)
        del s.payment_refs[:-PAYMENT_REFS_KEPT]
        s.payments_count += 1
        s.paid_total += inp.amount
        if late:
            s.late_payments += inp.amount
        self.rebalance()
        word = "late payment" if late else "payment"
        self.event(
            "payment",
            f"{word} {inp.payment_ref} of {money(inp.amount)}; balance {money(s.balance)}",
            now,
            inp.actor,
            payment_ref=inp.payment_ref,
            amount=money(inp.amount),
            balance=money(s.balance),
            refund_due=money(s.refund_due),
        )
        self.after_balance_change(inp.actor, now)

    def rebalance(self) -> None:
        """balance = owed - paid, never below zero; what is paid beyond is a refund due.

        On a settled case the debt ended at the settlement, so anything paid later is owed back.
        """
        s = self.s
        s.balance = max(ZERO, s.amount_overdue - s.paid_total)
        over = max(ZERO, s.paid_total - s.amount_overdue)
        if s.stage is Stage.SETTLED:
            over = max(over, s.late_payments)
        s.refund_due = over

    def after_balance_change(self, actor: Actor, now: datetime) -> None:
        s = self.s
        if s.stage.terminal:
            return
        if s.balance <= ZERO:
            self.enter(Stage.RESOLVED, "paid in full", now, actor)
        elif s.settlement_amount is not None and s.paid_total >= s.settlement_amount:
            self.enter(Stage.SETTLED, "settlement amount paid", now, actor)

    def set_amount(self, amount: Decimal, actor: Actor, now: datetime, why: str) -> None:
        old = self.s.amount_overdue
        if amount == old:
            return
        self.s.amount_overdue = amount
        self.rebalance()
        self.event(
            "amount",
            f"amount overdue {money(old)} -> {money(amount)}: {why}",
            now,
            actor,
            old=money(old),
            new=money(amount),
        )
        self.after_balance_change(actor, now)
