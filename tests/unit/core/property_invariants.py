"""DESIGN §3's invariants, checked after every step of the core's state machine
(``test_properties.py`` drives it; the rules are there, the invariants here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis.stateful import invariant

from models.common import Channel, Stage
from workflows.core import compliance
from workflows.core.case import Case
from workflows.core.state import CONTACTS_KEPT, NOTES_KEPT, PAYMENTS_KEPT, Contact

ATTEMPTED = compliance.ATTEMPTED


class CoreInvariants:
    """Mixed into the machine: what it tracks beside the case, and what must always hold."""

    case: Case
    now: datetime
    refs: dict[str, Decimal]
    archived_refs: set[str]
    contacts: dict[str, Contact]
    commitments: dict[int, tuple[str, Decimal]]
    was_terminal: bool

    @invariant()
    def money_adds_up(self) -> None:
        s = self.case.s
        assert s.paid_total == sum(self.refs.values(), Decimal(0)), "a payment was lost"
        assert s.balance == max(Decimal(0), s.amount_overdue - s.paid_total)
        assert s.balance >= 0
        if s.refund_due > 0:
            assert s.paid_total > s.amount_overdue or s.stage is Stage.SETTLED
        kept = {p.payment_ref for p in s.payments} | self.archived_refs
        assert set(self.refs) <= kept, "a payment is neither on the case nor archived"

    @invariant()
    def terminal_is_terminal(self) -> None:
        if self.was_terminal:
            assert self.case.s.stage.terminal
        self.was_terminal = self.case.s.stage.terminal

    @invariant()
    def commitments_numbered_once(self) -> None:
        nos = [x.no for x in self.case.s.commitments]
        assert len(nos) == len(set(nos))
        for item in self.case.s.commitments:
            identity = (item.kind, item.amount)
            assert self.commitments.setdefault(item.no, identity) == identity

    @invariant()
    def no_visit_while_paused_or_ceased(self) -> None:
        visit = self.case.current_visit()
        if visit is not None and visit.scheduled_at is not None:
            assert not self.case.s.dispute_open and not self.case.s.cease_contact
            until = self.case.s.hardship_until
            assert until is None or until <= self.now or visit.scheduled_at >= until

    @invariant()
    def bounded(self) -> None:
        s = self.case.s
        assert len(s.notes) <= NOTES_KEPT and len(s.payments) <= PAYMENTS_KEPT
        assert len(s.contacts) <= CONTACTS_KEPT

    @invariant()
    def caps_hold(self) -> None:
        rules, day = self.case.strategy.compliance, timedelta(days=1)
        # Receipts are not collection: the gate lets them past the caps (DESIGN §5).
        done = [r for r in self.contacts.values() if r.outcome in ATTEMPTED and not r.transactional]
        sms = [r.at for r in done if r.channel is Channel.SMS]
        calls = [r for r in done if r.channel is Channel.CALL]
        for times, limit, days in (
            (sms, rules.max_sms_day, 1),
            (sms, rules.max_sms_7d, 7),
            ([r.at for r in calls], rules.max_call_attempts_7d, 7),
            ([r.at for r in calls if r.connected], rules.max_connected_calls_day, 1),
            ([r.at for r in calls if not r.connected], rules.max_unanswered_calls_day, 1),
        ):
            for t in times:
                within = [x for x in times if t - days * day < x <= t]
                assert len(within) <= limit, (limit, days, sorted(within))
