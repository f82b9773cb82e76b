"""The pure simulation engine: a discrete-event loop over the case core, no server, no I/O.

Every loan is a :class:`~workflows.core.case.Case` driven through ``workflows.core.entry`` —
the calls the Temporal shell makes — by one heap of events ``(time, kind, loan, seq)``:

* a **timer**: the one wait the core asked for (``next_wait``); it fires ``on_timer`` at its
  time, and a newer timer for the same loan makes it stale (a version number);
* a **turn**: once a simulated day at the run's start hour (11:00 borrower time, as the
  Temporal engine's day-by-day skip), the behaviour models look at the case and act through
  the core's actions (``validate``/``handle`` for updates, ``signal`` for signals).

Timers sort before turns at the same instant, as on the time-skipping server, where a skip
fires every timer due before the driver acts. The effects are played by simulated parts
(:mod:`simulation.provider`): a contact is "delivered" (``contact_reported``) and counted, the
borrower seeing it at their next turn; collectors are assigned from an in-memory roster.
Nothing here reads a clock or a shared random generator, so a seed gives the same JSON.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from models.actions import ActionName
from models.strategy import Strategy
from simulation import portfolio
from simulation.behaviour import Action, decide
from simulation.model import CaseRecord, SimConfig, SimRun, day_of
from simulation.observe import action_name, actor_of, observation
from simulation.provider import Effects, Provider
from workflows.core import entry, localtime
from workflows.core.case import Case
from workflows.core.refusal import Refusal

DAY = timedelta(days=1)
SETTLE = timedelta(hours=1)  # as the Temporal engine: the last day's effects land
TIMER, TURN = 0, 1
# A fixed clock, so a seed's JSON never depends on when it ran: 11:00 at UTC+8 on the due date.
DEFAULT_TIMEZONE = "Etc/GMT-8"
DEFAULT_START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
SAME_INSTANT_LIMIT = 64  # timers re-aimed at "now" this often in a row: the core is spinning

DayCallback = Callable[[int], None]
Event = tuple[datetime, int, int, int, int]  # time, kind, loan position, seq, timer version


class Spinning(RuntimeError):
    """The core keeps asking to be woken at the same instant: a core bug, not a slow run."""


@dataclass
class Running:
    rec: CaseRecord
    case: Case
    timer: int = 0  # the version of the loan's live timer; older heap entries are stale
    last_fire: datetime | None = None
    same_instant: int = 0
    negotiations: int = 0


class Engine:
    def __init__(self, config: SimConfig, strategies: dict[str, Strategy]) -> None:
        self.config = config
        self.start = config.start or DEFAULT_START
        self.tz = config.timezone or DEFAULT_TIMEZONE
        self.due: date = localtime.local_date(self.start, self.tz)
        self.loans: list[Running] = []
        self.heap: list[Event] = []
        self.seq = 0
        self.events = 0  # heap events handled, stale timers included (the bench reports it)
        self.provider = Provider(self.start)
        self.strategies = strategies

    # ------------------------------------------------------------ the loop

    def run(self, on_day: DayCallback | None = None) -> SimRun:
        cfg = self.config
        for rec in portfolio.records(cfg, self.strategies, self.due):
            self._open(rec)
        end = self.start + cfg.days * DAY + SETTLE
        reported = 0
        while self.heap and self.heap[0][0] <= end:
            at, kind, pos, _, version = heapq.heappop(self.heap)
            self.events += 1
            if on_day is not None:
                reported = self._progress(on_day, reported, at)
            loan = self.loans[pos]
            if kind == TIMER:
                if version == loan.timer:
                    self._fire(loan, pos, at)
            else:
                self._turn(loan, pos, at)
        if on_day is not None:
            for day in range(reported + 1, cfg.days + 1):
                on_day(day)
        return SimRun(
            config=cfg,
            records=[loan.rec for loan in self.loans],
            start=self.start,
            timezone=self.tz,
            engine="pure",
        )

    def _progress(self, on_day: DayCallback, reported: int, at: datetime) -> int:
        day = min(day_of(self.start, at), self.config.days)
        for done in range(reported + 1, day + 1):
            on_day(done)
        return max(reported, day)

    def _push(self, at: datetime, kind: int, pos: int, version: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, kind, pos, self.seq, version))

    # ------------------------------------------------------------ a loan's events

    def _open(self, rec: CaseRecord) -> None:
        borrower = portfolio.borrower_of(rec, self.tz, self.config.regions)
        case = entry.start(rec.case_id, portfolio.loan_of(rec), borrower, rec.strategy, self.start)
        pos = len(self.loans)
        loan = Running(rec, case)
        self.loans.append(loan)
        self._play(loan, pos, entry.on_timer(case, self.start), self.start)
        if self.config.days >= 1:
            self._push(self.start + DAY, TURN, pos)

    def _fire(self, loan: Running, pos: int, at: datetime) -> None:
        if loan.last_fire == at:
            loan.same_instant += 1
            if loan.same_instant > SAME_INSTANT_LIMIT:
                raise Spinning(f"{loan.rec.case_id}: the core re-aims its timer at {at} forever")
        else:
            loan.last_fire, loan.same_instant = at, 0
        self._play(loan, pos, entry.on_timer(loan.case, at), at)

    def _turn(self, loan: Running, pos: int, at: datetime) -> None:
        if entry.finished(loan.case):
            return
        day = day_of(self.start, at)
        obs = observation(loan.rec, loan.case, day, at, self.tz, loan.negotiations)
        for action in decide(loan.rec.profile, obs):
            loan.rec.done[action.key] = day
            self._perform(loan, pos, action, at)
        if day < self.config.days and not entry.finished(loan.case):
            self._push(at + DAY, TURN, pos)

    def _perform(self, loan: Running, pos: int, action: Action, now: datetime) -> None:
        """One signal or update, as the Temporal engine sends it; a refusal is counted."""
        case, name, actor = loan.case, action_name(action), actor_of(action)
        if entry.finished(case):
            loan.rec.refused += 1  # the run has ended: the server refuses signals and updates
            return
        if action.signal:
            effects = entry.signal(case, name, action.arg, actor, now)
        else:
            try:
                entry.validate(case, name, action.arg, actor, now)
            except Refusal:
                loan.rec.refused += 1
                return
            effects = entry.handle(case, name, action.arg, actor, now)
            if name is ActionName.NEGOTIATION:
                loan.negotiations += 1
        self._play(loan, pos, effects, now)

    def _play(self, loan: Running, pos: int, effects: Effects, now: datetime) -> None:
        """Run the effects through the simulated parts, then aim the loan's one timer."""
        timer = self.provider.play(loan.rec, loan.case, effects, now)
        s = loan.case.s  # a grace offered by the treatment, or agreed in a negotiation
        loan.rec.grace_offered = s.graces_offered > 0 or s.graces_used > 0
        if entry.finished(loan.case):
            loan.timer += 1  # the run ends: nothing more fires
            return
        if timer is None:
            return  # nothing re-aimed (a refused signal): the pending timer stands
        loan.timer += 1  # the shell re-aims its one timer: what was pending is superseded
        if timer.until is None:
            return
        self._push(max(timer.until, now), TIMER, pos, loan.timer)


def run_pure(config: SimConfig, *, on_day: DayCallback | None = None) -> SimRun:
    return Engine(config, portfolio.load_strategies(config)).run(on_day)
