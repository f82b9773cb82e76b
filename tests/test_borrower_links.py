"""Borrower page links and confirmation rules on SQLite and PostgreSQL, and the SMS limits the
link must keep (no browser: see tests/web/test_borrower_page.py for the page itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities import links
from activities.db import Database
from models.common import OPT_IN_WORDS, OPT_OUT_WORDS, classify_inbound
from models.settings import PROJECT_ROOT
from models.strategy import (
    LONGEST_FIELDS,
    BorrowerPageRules,
    load_all_strategies,
    render,
    sms_segments,
)
from models.tables import BorrowerLink
from tests import factories
from web import borrower_access as access
from web.borrower_actions import plan_counts, plan_preview
from workflows.core.actions.contact import SLOT_REPLY

SECRET = "a-test-secret-of-at-least-32-characters!"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def _row(db: Database, token: str) -> BorrowerLink:
    found = await links.find(db, token)
    assert found is not None
    return found


async def test_a_retried_send_carries_the_same_link(database: Database) -> None:
    """The same SMS (contact key) gets the same token on every retry; only its hash is stored."""
    first = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k1")
    again = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k1")
    assert first == again and len(first) == links.TOKEN_CHARS
    row = await _row(database, first)
    assert row.token_hash == links.token_hash(first) and first not in row.model_dump_json()


async def test_a_newer_link_revokes_the_older(database: Database) -> None:
    """A new SMS's link revokes the case's earlier links, and only that case's."""
    old = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k1")
    other = await links.mint(database, SECRET, case_id="case-L2", loan_id="L2", contact_key="k9")
    new = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k2")
    assert (await _row(database, old)).revoked_reason == "newer_link"
    assert (await _row(database, new)).revoked_at is None
    assert (await _row(database, other)).revoked_at is None
    assert await access.lookup(database, old) is None
    assert await access.lookup(database, "not-a-token") is None


async def test_body_without_the_placeholder_is_unchanged(database: Database) -> None:
    """Only an SMS whose template carries {link} mints a link (a thank-you does not)."""
    body = "Thank you. Reply STOP to opt out."
    same = await links.with_link(
        database, SECRET, "https://x.example", body=body, case_id="c", loan_id="l", key="k"
    )
    assert same == body
    filled = await links.with_link(
        database, SECRET, "https://x.example/", body="See {link} now", case_id="c",
        loan_id="l", key="k",
    )  # fmt: skip
    assert filled.startswith("See https://x.example/b/") and "{link}" not in filled


async def test_five_wrong_answers_lock_with_backoff(database: Database) -> None:
    """Four wrong answers are free, the fifth locks; each further lock doubles."""
    rules = BorrowerPageRules(max_wrong_tries=5, lock_minutes=30)
    token = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k")
    for attempt in range(1, 6):
        locked = await access.record_failure(database, await _row(database, token), rules, NOW)
        assert locked is (attempt == 5)
    row = await _row(database, token)
    assert access.locked(row, NOW + timedelta(minutes=29))
    assert not access.locked(row, NOW + timedelta(minutes=31))
    assert access.lock_length(rules, 2) == timedelta(minutes=60)
    assert access.lock_length(rules, 30) == timedelta(days=1)


async def test_code_is_single_link_and_expires(database: Database) -> None:
    """A code matches only its own link and only within its validity."""
    rules = BorrowerPageRules(code_valid_minutes=10)
    token = await links.mint(database, SECRET, case_id="case-L1", loan_id="L1", contact_key="k")
    other = await links.mint(database, SECRET, case_id="case-L2", loan_id="L2", contact_key="j")
    row = await _row(database, token)
    assert row.id is not None
    await access.store_code(database, row, access.code_digest(SECRET, row.id, "123456"), NOW)
    row = await _row(database, token)
    assert access.code_matches(row, SECRET, rules, "123456", NOW + timedelta(minutes=9))
    assert not access.code_matches(row, SECRET, rules, "123457", NOW)
    assert not access.code_matches(row, SECRET, rules, "123456", NOW + timedelta(minutes=11))
    assert not access.code_matches(await _row(database, other), SECRET, rules, "123456", NOW)
    assert not access.may_send_code(row, rules, NOW + timedelta(seconds=30))
    assert access.may_send_code(row, rules, NOW + timedelta(seconds=61))


def test_links_expire_after_the_strategy_days() -> None:
    link = BorrowerLink(
        token_hash="h", nonce="n", case_id="c", loan_id="l", contact_key="k", created_at=NOW
    )
    rules = factories.default_strategy().borrower_page
    assert rules.link_valid_days == 14
    assert not access.expired(link, rules, NOW + timedelta(days=13, hours=23))
    assert access.expired(link, rules, NOW + timedelta(days=14))


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_sms_with_a_long_name_and_the_link_fits_two_segments(locale: str) -> None:
    """Every SMS template of every strategy, with the longest name, amount and link, takes at
    most two segments (GSM-7 for en, UCS-2 for zh-CN); the debt's reminders carry the link."""
    for strategy in load_all_strategies(PROJECT_ROOT / "strategies").values():
        company = strategy.company_name_zh if locale == "zh-CN" else strategy.company_name
        for name in ("friendly_notice", "second_notice", "visit_proposal", "promise_reminder"):
            template = strategy.templates[name]
            assert "{link}" in template.text(locale), name
            text = render(template, locale, {**LONGEST_FIELDS[locale], "company": company})
            assert sms_segments(text) <= 2, (strategy.id, name, len(text))


def test_segment_counting_and_the_lint() -> None:
    """GSM-7 and UCS-2 limits; a template that would take three segments is refused."""
    assert [sms_segments("a" * n) for n in (160, 161, 306, 307)] == [1, 2, 2, 3]
    assert [sms_segments("汇" * n) for n in (70, 71, 134, 135)] == [1, 2, 2, 3]
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2
    strategy = factories.default_strategy()
    long = strategy.templates["friendly_notice"].model_copy(
        update={"en": "{company}: " + "x" * 300 + " {link} Reply STOP to opt out."}
    )
    with pytest.raises(ValueError, match="3 SMS segments"):
        strategy.model_validate(
            {**strategy.model_dump(by_alias=True), "templates": {
                **{k: v.model_dump(by_alias=True) for k, v in strategy.templates.items()},
                "friendly_notice": long.model_dump(by_alias=True),
            }}
        )  # fmt: skip


def test_visit_reply_keywords_never_collide_with_opt_words() -> None:
    """ "V1".."V5" / "拜访1" answer a visit proposal; none is an opt-in or opt-out word, and no
    opt word is read as a slot."""
    for n in range(1, 6):
        for reply in (f"V{n}", f"v {n}", f"拜访{n}"):
            assert SLOT_REPLY.match(reply) and classify_inbound(reply) == "message"
    for word in OPT_OUT_WORDS | OPT_IN_WORDS:
        assert SLOT_REPLY.match(word) is None and SLOT_REPLY.match(word.upper()) is None


def test_the_calculator_offers_only_plans_within_bounds() -> None:
    """Counts the strategy allows for the balance; the preview sums to it exactly."""
    from decimal import Decimal

    rules = factories.default_strategy().negotiation
    counts = plan_counts(Decimal("1530.50"), rules, "CNY")
    assert (
        counts and min(counts) >= rules.min_installments and max(counts) <= rules.max_installments
    )
    assert plan_counts(Decimal("150.00"), rules, "CNY") == []
    rows = plan_preview(Decimal("1530.50"), 3, datetime(2026, 12, 9).date())
    assert sum(r.amount for r in rows) == Decimal("1530.50") and len(rows) == 3
