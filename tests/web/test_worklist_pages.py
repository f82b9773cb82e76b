"""The worklist pages: 30 calls due and 30 replies (20 SMS replies, 10 locked borrower pages)
make two pages of 25 and 5 each; every row is on exactly one page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from models.common import Role, Stage, case_id_for
from models.tables import Borrower, BorrowerLink, Case, CaseEvent, Loan
from tests.web.conftest import OpenPage, Site, log_in, screenshot
from tests.web.weights import weighed

DUE = 30  # 20 of them with an SMS reply, 10 with a locked borrower page


async def _seed(site: Site, now: datetime) -> None:
    async with site.database.session() as session:
        for n in range(DUE):
            loan_id = f"L-page-{n:02d}"
            session.add(
                Borrower(
                    id=f"B-page-{n:02d}",
                    name="x",
                    phone="+8613800138000",
                    timezone="Asia/Shanghai",
                    region=site.region,
                )
            )
            await session.flush()
            session.add(
                Loan(
                    loan_id=loan_id,
                    borrower_id=f"B-page-{n:02d}",
                    currency="CNY",
                    amount_overdue=Decimal("100"),
                    outstanding_balance=Decimal("100"),
                    due_date=date(2026, 11, 1),
                    strategy_id="default",
                )
            )
            await session.flush()
            session.add(
                Case(
                    case_id=case_id_for(loan_id),
                    loan_id=loan_id,
                    stage=Stage.REMINDING,
                    amount_overdue=Decimal("100"),
                    balance=Decimal("100"),
                    currency="CNY",
                    strategy_id="default",
                    strategy_version=1,
                    next_action_kind="reminder",
                    next_action_at=now - timedelta(minutes=n + 1),
                )
            )
            await session.flush()
            if n % 3 != 2:  # an SMS reply that was not a keyword; every third a locked page
                session.add(
                    CaseEvent(
                        case_id=case_id_for(loan_id),
                        seq=1,
                        at=now - timedelta(minutes=n),
                        stage=Stage.REMINDING,
                        kind="note",
                        summary=f"borrower wrote: msg {n}",
                        actor_id="twilio",
                        actor_role="system",
                        details={"sid": f"SM{n}"},
                    )
                )
            else:  # a borrower's page locked after wrong answers
                session.add(
                    BorrowerLink(
                        token_hash=f"{n:064d}",
                        nonce=f"n{n}",
                        case_id=case_id_for(loan_id),
                        loan_id=loan_id,
                        contact_key=f"k{n}",
                        locked_until=now - timedelta(minutes=n, seconds=30),
                    )
                )
        await session.commit()


async def _rows(page: object, section: str) -> list[str]:
    links = page.locator(f"#{section} + table tbody tr td:first-child a")  # type: ignore[attr-defined]
    return [await a.inner_text() for a in await links.all()]


async def test_worklist_pages_every_row_once(site: Site, open_page: OpenPage) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    site.move_clock(now)
    await _seed(site, now)
    operator = await site.person(Role.OPERATOR)
    page, guard = await open_page("desktop", "en")
    await log_in(page, site, operator)
    await page.wait_for_url(f"{site.url}/")
    seen: dict[str, list[str]] = {"due": [], "replies": []}
    for number, (due, replies) in enumerate(((25, 25), (5, 5)), start=1):
        await weighed(page, f"{site.url}/worklist?page={number}", f"worklist-p{number}-desktop-en")
        got = {section: await _rows(page, section) for section in seen}
        assert (len(got["due"]), len(got["replies"])) == (due, replies)
        for section, rows in got.items():
            seen[section] += rows
        more = page.locator("nav.pager a", has_text="More")
        assert await more.count() == (1 if number == 1 else 0)
        await screenshot(page, f"worklist-page{number}-desktop-en")
    phone, phone_guard = await open_page("phone", "zh-CN")
    await log_in(phone, site, await site.person(Role.OPERATOR, locale="zh-CN"))
    await phone.wait_for_url(f"{site.url}/")
    await weighed(phone, f"{site.url}/worklist?page=2", "worklist-p2-phone-zh-CN")
    assert len(await _rows(phone, "due")) == 5
    await screenshot(phone, "worklist-page2-phone-zh-CN")
    assert phone_guard.outside == []
    everyone = [f"L-page-{n:02d}" for n in range(DUE)]
    assert seen["due"] == everyone[::-1]  # the earliest next action (n + 1 minutes ago) first
    # Newest first, the two sources interleaved by time (row n at about n minutes ago).
    assert seen["replies"] == everyone
    assert guard.outside == []
