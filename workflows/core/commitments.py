"""Promises, installment plans and settlements: each numbered once for the life of the case,
kept when enough has been paid since it was agreed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from models.common import Actor, Stage
from workflows.core import clock, installments
from workflows.core.contacts import Contacts
from workflows.core.money import money
from workflows.core.state import COMMITMENTS_KEPT, ZERO, Commitment

Kind = Literal["promise", "ivr", "installment", "settlement"]


class Commitments(Contacts):
    def _number(self) -> int:
        self.s.commitment_seq += 1
        return self.s.commitment_seq

    def replace_open(self, now: datetime) -> None:
        """A new agreement replaces what was still pending (not broken: superseded)."""
        for item in self.s.commitments:
            if item.status == "pending":
                item.status = "kept" if self.kept(item) else "replaced"
        keep = self.s.commitments[-COMMITMENTS_KEPT:]
        for item in self.s.commitments[:-COMMITMENTS_KEPT]:
            self.event("archived_commitment", f"commitment {item.no} {item.status}", now)
        self.s.commitments = keep

    def add_promise(
        self, amount: Decimal, in_days: int, kind: Kind, actor: Actor, now: datetime
    ) -> Commitment:
        self.replace_open(now)
        due, day = clock.due_at(self.s, self.strategy, now, in_days)
        item = Commitment(
            no=self._number(),
            kind=kind,
            amount=amount,
            due_at=due,
            due_date=day,
            paid_before=self.s.paid_total,
            target=amount,
        )
        self.s.commitments.append(item)
        self.event("promise", f"promise {item.no}: {money(amount)} by {day} ({kind})", now, actor)
        return item

    def add_plan(
        self, count: int, every: int, first_in: int, actor: Actor, now: datetime
    ) -> list[Commitment]:
        self.replace_open(now)
        self.s.plan_seq += 1
        amounts = installments.split_installments(self.s.balance, count)
        cumulative, items = ZERO, []
        for index, amount in enumerate(amounts, start=1):
            due, day = clock.due_at(self.s, self.strategy, now, first_in + (index - 1) * every)
            cumulative += amount
            items.append(
                Commitment(
                    no=self._number(),
                    kind="installment",
                    amount=amount,
                    due_at=due,
                    due_date=day,
                    paid_before=self.s.paid_total,
                    target=cumulative,
                    plan_no=self.s.plan_seq,
                    index=index,
                    count=count,
                    every=every,
                    agreed_at=now,
                )
            )
        self.s.commitments.extend(items)
        self.event(
            "plan",
            f"installment plan {self.s.plan_seq}: {count} x ~{money(amounts[0])} "
            f"every {every} days",
            now,
            actor,
        )
        return items

    def open_commitment(self) -> Commitment | None:
        return next((c for c in self.s.commitments if c.status == "pending"), None)

    def kept(self, item: Commitment) -> bool:
        return self.s.paid_total - item.paid_before >= item.target or self.s.balance <= ZERO

    def settle_commitment(self, item: Commitment, now: datetime) -> None:
        label = f"commitment {item.no} ({item.kind}, {money(item.amount)} due {item.due_date})"
        if self.kept(item):
            item.status = "kept"
            self.event("kept", f"{label} kept", now, commitment=item.kind)
            return
        item.status = "broken"
        for later in self.s.commitments:  # a broken installment ends its plan
            if later.status == "pending" and later.plan_no == item.plan_no:
                later.status = "replaced"
        self.s.broken_count += 1
        self.event(
            "broken", f"{label} broken", now, broken=str(self.s.broken_count), commitment=item.kind
        )
        if self.s.broken_count >= self.strategy.follow_up.broken_to_escalate:
            self.enter(Stage.ESCALATED, f"{label} broken; {self.s.broken_count} in all", now)
        elif item.kind == "ivr":
            self.enter(Stage.VISIT, f"{label} broken; arranging a visit", now)
        else:
            self.enter(Stage.NEGOTIATING, f"{label} broken; renegotiating", now)
