"""The dashboard's portfolio figures on a seeded portfolio whose answers are worked out by
hand below (not by the dashboard's code): on SQLite and PostgreSQL, and on the page itself in
both languages and sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from activities.db import Database
from models.common import Role, Stage, case_id_for
from models.tables import (
    AgentAssignment,
    Borrower,
    Case,
    CaseEvent,
    FieldAgent,
    Loan,
    Payment,
)
from tests.web.conftest import OpenPage, Site, log_in, screenshot
from tests.web.weights import weighed
from web import approvals, portfolio

# name: currency, strategy, stage, DPD now, DPD when placed, balance, payments
CASES = {
    "A": ("CNY", "default", "reminding", 10, 10, "400.00", ["60.00", "40.00"]),
    "B": ("CNY", "default", "visit", 45, 20, "600.00", []),  # rolled: 0-30 -> 31-60
    "C": ("CNY", "default", "resolved", 20, 20, "0.00", ["500.00"]),  # cured
    "D": ("CNY", "gentle", "escalated", 95, 55, "1000.00", ["250.00"]),  # rolled: 31-60 -> 91+
    "E": ("USD", "default", "settled", 70, 70, "0.00", ["80.00"]),  # cured
    "F": ("USD", "default", "reminding", 65, 65, "120.00", []),
}
# (outcome, reason, step) of case A's contact events
CONTACTS = [
    ("sent", "", "reminder-1"),
    ("sent", "", "reminder-2"),
    ("sent", "", "reminder-3"),
    ("answered", "", "call-1"),  # the provider's status for an automated call
    ("unanswered", "", "call-2"),
    ("answered", "", "manual-1"),  # an operator's logged calls
    ("unanswered", "", "manual-2"),
    ("deferred", "outside the borrower's contact hours", "reminder-4"),
    ("deferred", "outside the borrower's contact hours", "reminder-4"),
    ("blocked", "the borrower opted out of sms", "reminder-5"),
]
# (agent, capacity, active, visit days from today)
AGENTS = [("AG-1", 4, True, [0, 0, 1, 8]), ("AG-2", 1, True, [0, 0]), ("AG-3", 3, False, [0])]

# The answers, by hand. Recovery: paid ÷ (paid + still owed), per currency/strategy/bucket.
RECOVERY = {
    "CNY/default/0-30": ("2", "600.00", "400.00", "60%"),  # A and C: 100 + 500 paid, 400 owed
    "CNY/default/31-60": ("1", "0.00", "600.00", "0%"),
    "CNY/gentle/91+": ("1", "250.00", "1000.00", "20%"),
    "USD/default/61-90": ("2", "80.00", "120.00", "40%"),
}
CURE = ("2 of 6", "6 中的 2", 33)  # C, E of six cases
ROLL = ("2 of 4", "4 中的 2", 50)  # B, D of the open A, B, D, F
RPC = ("2 of 4", "4 中的 2", 50)  # call-1, manual-1 answered; call-2, manual-2 not
PER_CASE = "0.8 (5 / 6)"  # three messages sent and two logged calls, six cases
HELD = {
    "deferred:outside the borrower's contact hours": "2",
    "blocked:the borrower opted out of sms": "1",
}
LOAD_TODAY = {"AG-1": "2 / 4", "AG-2": "2 / 1"}
LOAD_WEEK = {"AG-1": "3", "AG-2": "2"}  # AG-1's visit in 8 days is outside; AG-3 is inactive


async def seed(db: Database, now: datetime, region: str = "r-dash") -> None:
    async with db.session() as session:
        for name, (cur, strategy, stage, dpd, placed, balance, paid) in CASES.items():
            loan_id = f"L-dash-{name}"
            borrower = Borrower(
                id=f"B-dash-{name}", name="x", phone="+8613800138000",
                timezone="Asia/Shanghai", region=region,
            )  # fmt: skip
            loan = Loan(
                loan_id=loan_id, borrower_id=borrower.id, currency=cur,
                amount_overdue=Decimal("900"), outstanding_balance=Decimal("900"),
                due_date=(now - timedelta(days=dpd)).date(), strategy_id=strategy,
            )  # fmt: skip
            case = Case(
                case_id=case_id_for(loan_id), loan_id=loan_id, stage=Stage(stage),
                amount_overdue=Decimal("900"), balance=Decimal(balance), currency=cur,
                strategy_id=strategy, strategy_version=1, days_past_due=dpd,
                created_at=now - timedelta(days=dpd - placed),
            )  # fmt: skip
            for row in (borrower, loan, case):  # in foreign-key order
                session.add(row)
                await session.flush()
            for i, amount in enumerate(paid):
                session.add(
                    Payment(
                        payment_ref=f"p-dash-{name}-{i}",
                        case_id=case.case_id,
                        amount=Decimal(amount),
                        paid_at=now,
                    )
                )
        for seq, (outcome, reason, step) in enumerate(CONTACTS, start=1):
            details = {"outcome": outcome, "step": step, "channel": "sms"}
            if reason:
                details["reason"] = reason
            session.add(
                CaseEvent(
                    case_id=case_id_for("L-dash-A"),
                    seq=seq,
                    at=now,
                    stage=Stage.REMINDING,
                    kind="contact",
                    summary=f"sms {step}: {outcome}",
                    details=details,
                )
            )
        for agent_id, capacity, active, days in AGENTS:
            session.add(
                FieldAgent(
                    id=agent_id,
                    name=f"Agent {agent_id}",
                    region=region,
                    capacity_per_day=capacity,
                    active=active,
                )
            )
            await session.flush()
            for i, day in enumerate(days):
                session.add(
                    AgentAssignment(
                        agent_id=agent_id,
                        case_id=case_id_for(f"L-dash-{'ABCDEF'[i]}"),
                        visit_day=(now + timedelta(days=day)).date(),
                    )
                )
        await session.commit()


async def test_portfolio_figures_on_each_database(database: Database) -> None:
    """The figures the read model yields for the seeded portfolio, on SQLite and PostgreSQL."""
    now = datetime.now(UTC).replace(hour=6)
    await seed(database, now)
    book = await portfolio.portfolio(database, now.date())
    got = {
        f"{r.currency}/{r.strategy}/{r.bucket}": (str(r.cases), f"{r.paid:.2f}", f"{r.owed:.2f}")
        for r in book.recovery
    }
    assert got == {group: figures[:3] for group, figures in RECOVERY.items()}
    assert (book.cured, book.cases, book.rolled, book.open_cases) == (2, 6, 2, 4)
    assert (book.answered, book.unanswered, book.contacts_made) == (2, 2, 5)
    held = {f"{o}:{r}": str(n) for o, r, n in book.held_back}
    assert held == HELD
    assert {a.agent_id: (a.today, a.week) for a in book.load} == {"AG-1": (2, 3), "AG-2": (2, 2)}
    # No case here has a change request: the approvals screen has nothing to ask the cases.
    assert await approvals.pending_cases(database, 1) == ([], False)


async def test_dashboard_shows_the_portfolio_figures(site: Site, open_page: OpenPage) -> None:
    """The page shows the hand-worked figures, phone and desktop, zh-CN and en, under 100 KB."""
    now = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    site.move_clock(now)
    await seed(site.database, now, site.region)
    for lang in ("en", "zh-CN"):
        supervisor = await site.person(Role.SUPERVISOR, locale=lang)
        for viewport in ("desktop", "phone"):
            page, guard = await open_page(viewport, lang)
            await log_in(page, site, supervisor)
            await page.wait_for_url(f"{site.url}/")
            await weighed(page, f"{site.url}/dashboard", f"dashboard-{viewport}-{lang}")
            for group, (cases, paid, owed, rate) in RECOVERY.items():
                row = page.locator(f'tr[data-group="{group}"]')
                assert await row.locator("td.paid").inner_text() == paid
                assert await row.locator("td.owed").inner_text() == owed
                assert await row.locator("td.rate").inner_text() == rate
                assert cases in await row.inner_text()
            for selector, (en, zh, pct) in (("#cure", CURE), ("#roll", ROLL), ("#rpc", RPC)):
                shown = await page.inner_text(selector)
                assert shown == (f"{pct}% ({en})" if lang == "en" else f"{pct}%（{zh}）")
            assert await page.inner_text("#per-case") == PER_CASE
            for key, n in HELD.items():
                assert await page.inner_text(f'td[data-held="{key}"]') == n
            gate_words = "不在借款人的联系时段内" if lang == "zh-CN" else "outside the borrower's"
            assert gate_words in await page.inner_text("#held-back")
            for agent, shown in LOAD_TODAY.items():
                assert await page.inner_text(f'td[data-agent-today="{agent}"]') == shown
                assert await page.inner_text(f'td[data-agent-week="{agent}"]') == LOAD_WEEK[agent]
            assert await page.locator('td[data-agent-today="AG-3"]').count() == 0
            await screenshot(page, f"dashboard-portfolio-{viewport}-{lang}")
            assert guard.outside == []
