"""The supervisor's screens: the escalation queue on a real case, the dashboard on a seeded
portfolio whose figures are written here, not computed by the dashboard's code."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from api.case_ops import read_case, run_update
from models import case as c
from models.common import Role, Stage, case_id_for
from models.tables import Borrower, Case, DueStatus, Loan, Payment, Promise
from tests import factories
from tests.web.conftest import LiveSite, OpenPage, Site, log_in, screenshot
from tests.web.fieldwork import BOOKER, book, collector_in, soon, until_begun
from tests.web.test_login import MAX_PAGE_BYTES, weigh


async def _escalated(site: LiveSite, client: object, loan_id: str) -> None:
    """Wait until the read model has the case as escalated."""
    for _ in range(100):
        async with site.database.session() as session:
            case = await session.get(Case, case_id_for(loan_id))
            if case is not None and case.stage is Stage.ESCALATED and case.next_action_at:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{loan_id} never showed as escalated")


async def test_supervisor_decides_from_the_escalation_queue(
    live_site: LiveSite, dev_env: WorkflowEnvironment, open_page: OpenPage
) -> None:
    """A refused visit escalates the case; the queue shows it with its decide-by time; legal
    action at a low DPD is refused with the case's sentence inline; write-off is accepted."""
    client = dev_env.client
    zone = factories.open_window_zone()
    _, one = await collector_in(live_site, zone)
    _, two = await collector_in(live_site, zone)
    loan_id = await live_site.open_case(zone, strategy="straight-to-visit")
    at = soon(3)
    await book(live_site, client, loan_id, at, [one, two])
    await until_begun(at)
    refused = c.RecordVisitInput(actor=BOOKER, outcome=c.VisitOutcome.REFUSED)
    await run_update(client, case_id_for(loan_id), c.UPDATE_RECORD_VISIT, refused)
    await _escalated(live_site, client, loan_id)
    supervisor = await live_site.person(Role.SUPERVISOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, live_site, supervisor)
    await page.wait_for_url(f"{live_site.url}/")
    assert await weigh(page, f"{live_site.url}/escalations") < MAX_PAGE_BYTES
    card = page.locator(f"#esc-{loan_id}")
    assert "decide by" in await card.locator(".decide-by").inner_text()
    assert "visit outcome refused" in await card.inner_text()
    await card.locator("select[name=decision]").select_option("legal")
    await card.locator("button[type=submit]").click()
    await page.wait_for_selector(f"#esc-{loan_id} p.alert")
    sentence = await page.locator(f"#esc-{loan_id} p.alert").inner_text()
    assert "60" in sentence, sentence  # the strategy's minimum days past due for legal action
    await screenshot(page, "escalations-refused-desktop-en")
    assert (await read_case(client, case_id_for(loan_id))).stage is Stage.ESCALATED
    chosen = page.locator(f"#esc-{loan_id} select[name=decision]")
    assert await chosen.input_value() == "legal"  # the refused choice stays, to be changed
    await page.locator(f"#esc-{loan_id} select[name=decision]").select_option("write_off")
    await page.locator(f"#esc-{loan_id} button[type=submit]").click()
    await page.wait_for_selector("p.notice")
    view = await read_case(client, case_id_for(loan_id))
    assert view.stage is Stage.WRITTEN_OFF
    assert view.stage_history[-1].actor.id == supervisor
    assert guard.outside == []


# The portfolio: stages and payments, and the figures a person works out from them.
SEEDED_CASES: list[tuple[str, str, str, list[str]]] = [
    ("reminding", "CNY", "default", ["100.50", "200.00"]),
    ("reminding", "CNY", "gentle", []),
    ("escalated", "USD", "default", ["50.00"]),
    ("resolved", "CNY", "gentle", ["1000.00"]),
]
SEEDED_PROMISES = ["kept", "kept", "broken", "pending"]
EXPECTED_STAGES = {"reminding": "2", "escalated": "1", "resolved": "1", "visit": "0"}
EXPECTED_RECOVERED = {"CNY": "1300.50", "USD": "50.00"}
EXPECTED_KEPT = "67% kept (2 kept, 1 broken)"


async def _seed(site: Site) -> None:
    now = datetime.now(UTC)
    async with site.database.session() as session:
        case_ids = []
        for n, (stage, currency, strategy, payments) in enumerate(SEEDED_CASES):
            tag = uuid.uuid4().hex[:8]
            borrower = Borrower(
                id=f"B-{tag}",
                name="x",
                phone="+8613800138000",
                timezone="Asia/Shanghai",
                region=site.region,
            )
            loan = Loan(
                loan_id=f"L-{tag}",
                borrower_id=borrower.id,
                currency=currency,
                amount_overdue=Decimal("500"),
                outstanding_balance=Decimal("900"),
                due_date=date(2026, 11, 1),
                strategy_id=strategy,
            )
            case = Case(
                case_id=case_id_for(loan.loan_id),
                loan_id=loan.loan_id,
                stage=Stage(stage),
                amount_overdue=Decimal("500"),
                balance=Decimal("500"),
                currency=currency,
                strategy_id=strategy,
                strategy_version=1,
            )
            for row in (borrower, loan, case):  # in foreign-key order
                session.add(row)
                await session.flush()
            case_ids.append(case.case_id)
            for i, amount in enumerate(payments):
                session.add(
                    Payment(
                        payment_ref=f"p-{tag}-{i}",
                        case_id=case.case_id,
                        amount=Decimal(amount),
                        paid_at=now - timedelta(days=n),
                    )
                )
        for seq, status in enumerate(SEEDED_PROMISES, start=1):
            session.add(
                Promise(
                    case_id=case_ids[0],
                    seq=seq,
                    due_date=date(2026, 11, seq),
                    amount=Decimal("10"),
                    status=DueStatus(status),
                )
            )
        await session.commit()


async def test_dashboard_shows_the_seeded_figures(site: Site, open_page: OpenPage) -> None:
    """Counts per stage, amounts recovered per currency (never summed across currencies) and
    the promise-kept rate are the ones worked out by hand from the seeded rows; charts are
    inline SVG; phone and desktop, zh-CN and en, each under 100 KB."""
    await _seed(site)
    for lang in ("en", "zh-CN"):
        supervisor = await site.person(Role.SUPERVISOR, locale=lang)
        for viewport in ("desktop", "phone"):
            page, guard = await open_page(viewport, lang)
            await log_in(page, site, supervisor)
            await page.wait_for_url(f"{site.url}/")
            assert await weigh(page, f"{site.url}/dashboard") < MAX_PAGE_BYTES
            for stage, count in EXPECTED_STAGES.items():
                assert await page.text_content(f"td[data-stage={stage}]") == count
            for currency, amount in EXPECTED_RECOVERED.items():
                assert await page.inner_text(f"td[data-currency={currency}]") == amount
            if lang == "en":
                assert await page.inner_text("#kept") == EXPECTED_KEPT
            assert await page.locator("svg.chart").count() == 3  # stages; CNY and USD by strategy
            await screenshot(page, f"dashboard-{viewport}-{lang}")
            assert await weigh(page, f"{site.url}/escalations") < MAX_PAGE_BYTES
            await screenshot(page, f"escalations-{viewport}-{lang}")
            assert guard.outside == []
