"""The day's forms without JavaScript, on a read model seeded here (no Temporal needed for
what is refused before the case is asked): a bad field comes back beside its field, with
what the collector typed still in the form."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlmodel import select

from models.common import Role, Stage, case_id_for
from models.tables import Borrower, Case, Loan, Visit
from models.users import User
from tests.web.conftest import OpenPage, Site, log_in
from tests.web.test_evidence_limits import _session


async def _visit_today(site: Site, agent: str) -> str:
    tag = uuid.uuid4().hex[:8]
    rows = [
        Borrower(id=f"B-{tag}", name="李雷", phone="+8613800138000", timezone="UTC",
                 region=site.region, address="上海市黄浦区南京东路 100 号"),
        Loan(loan_id=f"L-{tag}", borrower_id=f"B-{tag}", currency="CNY",
             amount_overdue=Decimal("1200"), outstanding_balance=Decimal("5000"),
             due_date=date(2026, 11, 1), strategy_id="default"),
        Case(case_id=case_id_for(f"L-{tag}"), loan_id=f"L-{tag}", stage=Stage.VISIT,
             amount_overdue=Decimal("1200"), balance=Decimal("1200"), currency="CNY",
             strategy_id="default", strategy_version=1),
        Visit(case_id=case_id_for(f"L-{tag}"), visit_no=1, collectors=[agent, "A-partner"],
              proposed_at=datetime.now(UTC), scheduled_at=datetime.now(UTC) + timedelta(minutes=1)),
    ]  # fmt: skip
    async with site.database.session() as session:
        for row in rows:  # in foreign-key order
            session.add(row)
            await session.flush()
        await session.commit()
    return f"L-{tag}"


async def test_a_bad_field_is_named_and_the_form_keeps_what_was_typed(
    site: Site, open_page: OpenPage
) -> None:
    collector = await site.person(Role.OPERATOR, collector=True)
    async with site.database.session() as session:
        user = (await session.exec(select(User).where(User.username == collector))).one()
        user.timezone = "UTC"
        agent = user.agent_id or ""
        session.add(user)
        await session.commit()
    loan_id = await _visit_today(site, agent)
    page, _ = await open_page("phone", "en")
    await log_in(page, site, collector)
    await page.wait_for_url(f"{site.url}/")
    await page.goto(f"{site.url}/today")
    # The default strategy's bounds for 1200.00: 2-10 installments (each at least 120).
    offered = page.locator(f"#visit-{loan_id} select[name=plan] option")
    assert [await offered.nth(i).get_attribute("value") for i in range(await offered.count())] == [
        str(n) for n in range(2, 11)
    ]
    cookies, csrf = await _session(site, open_page, collector)
    form = {"csrf": csrf, "ref": uuid.uuid4().hex, "outcome": "met", "reason": "forgot",
            "income": "4000", "expenses": "lots", "result": "promise", "promise_amount": "300",
            "promise_days": "5", "notes": "会下周还"}  # fmt: skip
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as http:
        answer = await http.post(f"/today/{loan_id}/outcome", data=form)
    assert answer.status_code == 422
    card = answer.text.split(f'id="visit-{loan_id}"')[1]
    assert "Enter an amount such as 1200" in card
    assert 'value="4000"' in card and 'value="lots"' in card and "会下周还" in card
    assert '<option value="promise" selected>' in card
