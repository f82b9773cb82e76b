"""What a borrower does on their own page, as actions of the case with actor role ``borrower``.

The same service layer as the JSON API (``api.case_ops.run_update``) and the same action table:
the workflow handler comes from ``models.actions``, so an action the case cannot take yet (no
handler in the table, or a workflow that refuses the role or the stage) answers the case's own
sentence, shown inline on the page. Texts to the borrower (the one-time code, the confirmation
of what was agreed) are replies to the borrower's own request: they go through Twilio at once,
not through the case's reminder cadence and caps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from activities.contacts import mask_phone
from activities.twilio_client import ProviderError, TwilioMessenger
from activities.vault.store import Vault
from api.case_ops import run_update
from api.errors import ApiError, temporal_error
from api.vaulting import seal_free_text
from models import case as c
from models.actions import ACTIONS, ActionName, Kind
from models.common import Actor, Channel, Role
from models.settings import Settings
from models.strategy import NegotiationRules
from workflows.core.installments import plan_problem, split_installments

log = structlog.get_logger(__name__)

PLAN_EVERY_DAYS = 30  # monthly installments: what a borrower's pay cycle most often is
NOT_YET = {
    "en": "This case cannot take '{action}' from this page yet; please call us.",
    "zh-CN": "本案件暂时无法在此页面办理“{action}”，请致电我们。",
}


def actor(borrower_id: str | None) -> Actor:
    return Actor(id=borrower_id or "borrower", role=Role.BORROWER)


async def act(
    client: Client, case_id: str, name: ActionName, inp: c.ActorAction, vault: Vault | None = None
) -> c.CaseView:
    """Run one borrower action through the case; a refusal is an ApiError with its sentence."""
    spec = ACTIONS[name]
    if spec.handler is None:
        raise ApiError(409, NOT_YET["en"].format(action=spec.phrase_en))
    if vault is not None:  # DESIGN §10: a dispute's or hardship's words sealed
        inp = await seal_free_text(vault, case_id, inp, name.value)
    return await run_update(client, case_id, spec.handler, inp)


async def signal(client: Client, case_id: str, name: ActionName, inp: c.ChannelPreference) -> None:
    spec = ACTIONS[name]
    if spec.kind is not Kind.SIGNAL or spec.handler is None:
        raise ApiError(409, NOT_YET["en"].format(action=spec.phrase_en))
    try:
        await client.get_workflow_handle(case_id).signal(spec.handler, inp)
    except RPCError as err:
        raise temporal_error(err) from err


def promise(who: Actor, amount: Decimal, due: date) -> c.NegotiationInput:
    return c.NegotiationInput(
        actor=who,
        reason=c.DefaultReason.OTHER,
        result=c.NegotiationResult.PROMISE,
        promise=c.PromiseTerms(amount=amount, due_date=due),
        notes="chosen on the borrower's page",
    )


def plan(who: Actor, count: int, first_due: date) -> c.NegotiationInput:
    return c.NegotiationInput(
        actor=who,
        reason=c.DefaultReason.OTHER,
        result=c.NegotiationResult.INSTALLMENT_PLAN,
        plan=c.PlanTerms(count=count, frequency_days=PLAN_EVERY_DAYS, first_due=first_due),
        notes="chosen on the borrower's page",
    )


def hardship(who: Actor, days: int, reason: c.DefaultReason, text: str) -> c.NegotiationInput:
    """A borrower asks for a pause through negotiation (the action table lets a borrower
    negotiate; granting a pause outright is an operator's action)."""
    return c.NegotiationInput(
        actor=who,
        reason=reason,
        result=c.NegotiationResult.HARDSHIP_GRACE,
        grace_days=days,
        notes=text,
    )


def dispute(who: Actor, reason: str) -> c.DisputeInput:
    return c.DisputeInput(actor=who, action="open", reason=reason)


def visit_answer(who: Actor, answer: str, slot: datetime | None) -> c.VisitAnswerInput:
    return c.VisitAnswerInput(actor=who, answer=answer, slot=slot)


def opt_out(who: Actor, channel: Channel) -> c.ChannelPreference:
    return c.ChannelPreference(channel=channel, opted_out=True, source="borrower page", actor=who)


def hours(who: Actor, start: time, end: time) -> c.ChannelPreference:
    """Preferred contact hours (for every channel; the channel field names the first)."""
    return c.ChannelPreference(
        channel=Channel.SMS, source="borrower page", actor=who, hours_start=start, hours_end=end
    )


# ---------------------------------------------------------------- the plan calculator


@dataclass(frozen=True)
class PlanRow:
    index: int
    due: date
    amount: Decimal


def plan_counts(balance: Decimal, rules: NegotiationRules, currency: str) -> list[int]:
    """The installment counts the strategy's bounds allow for this balance."""
    if balance <= 0:
        return []
    return [
        n
        for n in range(rules.min_installments, rules.max_installments + 1)
        if plan_problem(balance, n, 0, rules, currency) is None
    ]


def plan_preview(balance: Decimal, count: int, first_due: date) -> list[PlanRow]:
    amounts = split_installments(balance, count)
    return [
        PlanRow(i + 1, first_due + timedelta(days=i * PLAN_EVERY_DAYS), amount)
        for i, amount in enumerate(amounts)
    ]


# ---------------------------------------------------------------- texts to the borrower


async def text_borrower(settings: Settings, to: str, body: str) -> bool:
    """One SMS through Twilio (the sandbox in development and tests); False if it failed."""
    messenger = TwilioMessenger(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        base_url=settings.twilio_base_url,
        from_number=settings.twilio_from_number,
        status_callback_base=settings.public_base_url,
        timeout_seconds=settings.twilio_timeout_seconds,
    )
    try:
        result = await messenger.send_sms(to, body)
    except ProviderError as exc:
        log.warning("borrower page text failed", to=mask_phone(to), code=exc.code)
        return False
    finally:
        await messenger.aclose()
    log.info("borrower page text sent", to=mask_phone(to), sid=result.sid)
    return True
