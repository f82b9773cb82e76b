"""Exactly once per ledger key: claim, send, record, and reconcile what a crash left open.

How provider errors reach the workflow (DESIGN §5):

- the number cannot be reached on this channel (invalid, unsubscribed) -> non-retryable
  ``ContactRejected`` carrying Twilio's code; the workflow records it and falls back;
- 429 / 5xx / no connection, nothing sent -> the attempt is released and a retryable error
  raised: Temporal retries with backoff;
- a timeout after the request may have reached Twilio -> the attempt is ``unknown`` and looked
  up in Twilio's own list (``activities/reconcile.py``): found, it is SENT with Twilio's sid;
  not yet listed, a retryable error, and the retry reconciles before anything is resent;
- an attempt a crash left ``recorded`` or ``unknown`` -> reconciled the same way first: sent
  once only when Twilio's settled record holds nothing; ambiguous records answer UNKNOWN;
- Twilio refuses our own request (credentials, sender, malformed) -> retryable: see
  ``_misconfigured``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from temporalio.exceptions import ApplicationError

from activities.contacts import (
    Attempt,
    ContactLedger,
    Pending,
    Resend,
    mask_phone,
    mask_phones_in,
)
from activities.db import Database
from activities.pace import Pace
from activities.reconcile import Reconciliation, Verdict, reconcile
from activities.twilio_client import (
    PermanentContactError,
    ProviderRejectedError,
    ProviderResult,
    TransientProviderError,
    TwilioMessenger,
)
from activities.vault import dnc, outgoing
from activities.vault.store import Vault
from models import activities as act
from models.case import ContactOutcome
from models.common import Channel
from models.settings import Settings
from models.tables import AttemptStatus, utc_now

log = structlog.get_logger(__name__)
ERROR_PROVIDER_UNAVAILABLE = "ProviderUnavailable"
UNSUBSCRIBED = "21610"  # Twilio: the number replied STOP to this sender
ERROR_PROVIDER_MISCONFIGURED = "ProviderMisconfigured"
ERROR_PROVIDER_UNSETTLED = "ProviderRecordUnsettled"
# After a timeout, how long the activity itself keeps looking before leaving it to a retry
# (well inside the send's 30 s start-to-close timeout).
TIMEOUT_LOOK_UP_SECONDS = 8.0


class ExactlyOnceContacts:
    """The send path of ``CaseActivities``: its ledger, provider client and settings are the
    activities' own (a test may swap the ledger on the activities object)."""

    db: Database
    messenger: TwilioMessenger
    settings: Settings
    ledger: ContactLedger
    pace: Pace

    @property
    @abstractmethod
    def vault(self) -> Vault:
        """The borrower vault (``CaseActivities`` builds it on first use)."""

    async def _contact(
        self,
        key: str,
        case_id: str,
        channel: Channel,
        out: outgoing.Outgoing,
        text: str,
        send: Callable[[], Awaitable[ProviderResult]],
    ) -> act.ContactResult:
        """The text's hash on every answer when the activity rendered it (DESIGN §10). The
        provider's pace first, before the ledger is touched: a send given up while waiting for
        its slot leaves nothing to reconcile."""
        await self.pace.turn()
        result = await self._contact_once(key, case_id, channel, out, text, send)
        if result.text_sha256 is not None:  # what an earlier attempt sent, from its row
            return result
        _, digest = out.stored(text, key)
        return result.model_copy(update={"text_sha256": digest}) if digest else result

    async def _contact_once(
        self,
        key: str,
        case_id: str,
        channel: Channel,
        out: outgoing.Outgoing,
        text: str,
        send: Callable[[], Awaitable[ProviderResult]],
    ) -> act.ContactResult:
        """Exactly once per key: claim, send, record. See the module docstring for errors."""
        to = out.to
        logger = log.bind(key=key, case_id=case_id, channel=channel.value, to=mask_phone(to))
        claimed_at = utc_now()
        stored, digest = out.stored(text, key)
        to_stored, to_sealed = out.stored_to(key)
        claim = await self.ledger.claim(
            key=key, case_id=case_id, channel=channel, to=to_stored, body=stored,
            body_sha256=digest, to_sealed=to_sealed,
            borrower_id=out.borrower_id if to_sealed else None,
        )  # fmt: skip
        if claim.previous is not None:
            return _replay(claim.previous, logger)
        if claim.pending is not None:
            # Twilio is asked about what the earlier attempt sent: the number it went to (the
            # phone may have changed since; chaos seed 20) and its text, by the row's body or
            # hash, not the text in hand: a case re-run after a lost workflow task renders the
            # same key again, later, with other figures (chaos seed 33).
            pending = dataclasses.replace(claim.pending, to=claim.pending.to or to)
            resend = Resend(to_stored, to_sealed, stored, digest)
            attempt_id = await self._reconcile_pending(pending, logger, resend)
            if isinstance(attempt_id, act.ContactResult):
                return attempt_id
        elif claim.attempt_id is not None:
            attempt_id = claim.attempt_id
        else:  # a Claim holds one of the three
            raise RuntimeError(f"the ledger neither claimed nor found {key!r}")
        try:
            result = await send()
        except PermanentContactError as exc:
            code = None if exc.code is None else str(exc.code)
            await self.ledger.record_rejected(attempt_id, code, exc.reason)
            if channel is Channel.SMS and code == UNSUBSCRIBED:  # the register outlives the case
                fingerprint = self.vault.phone_hmac(to)
                await dnc.register(self.db, fingerprint, [channel], "provider: unsubscribed", key)
            logger.info("contact rejected", code=code, reason=mask_phones_in(exc.reason))
            raise _rejected(exc.reason, code) from exc
        except TransientProviderError as exc:
            if exc.outcome_unknown:
                await self.ledger.mark_unknown(attempt_id, f"outcome unknown: {exc.reason}")
                logger.warning("contact outcome unknown", reason=mask_phones_in(exc.reason))
                pending = Pending(
                    attempt_id,
                    AttemptStatus.UNKNOWN,
                    channel,
                    to,
                    text,
                    claimed_at,
                    claimed_at,
                    claimed_at,
                )
                return await self._look_up_after_timeout(pending, exc.reason, logger)
            await self.ledger.release(attempt_id)
            logger.info(
                "provider unavailable; will retry", code=exc.code, reason=mask_phones_in(exc.reason)
            )
            raise ApplicationError(
                f"Twilio is unavailable ({exc.code}): {exc.reason}",
                type=ERROR_PROVIDER_UNAVAILABLE,
            ) from exc
        except ProviderRejectedError as exc:
            await self.ledger.release(attempt_id)
            raise _misconfigured(exc, logger) from exc
        await self.ledger.record_sent(attempt_id, result.sid)
        logger.info("contact sent", sid=result.sid, status=result.status)
        return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=result.sid)

    async def _reconcile_pending(
        self, pending: Pending, logger: Any, resend: Resend
    ) -> int | act.ContactResult:
        """An earlier attempt left no answer: Twilio's record decides. The attempt id to send
        on when Twilio holds nothing, else the answer. Never resends while Twilio cannot say."""
        verdict = await self._ask_provider(pending)
        logger.info("contact reconciled", verdict=verdict.verdict.value, sid=verdict.sid)
        if verdict.verdict is Verdict.SENT:
            return act.ContactResult(
                outcome=ContactOutcome.SENT,
                provider_sid=verdict.sid,
                text_sha256=pending.body_sha256,
            )
        if verdict.verdict is Verdict.AMBIGUOUS:
            return act.ContactResult(outcome=ContactOutcome.UNKNOWN, reason=verdict.reason)
        if verdict.verdict is Verdict.UNSETTLED:
            raise ApplicationError(
                "an earlier attempt's outcome is not yet in Twilio's record; looking again later",
                type=ERROR_PROVIDER_UNSETTLED,
            )
        if not await self.ledger.take_over(pending, resend):
            raise ApplicationError(
                "another attempt took this contact over; asking again",
                type=ERROR_PROVIDER_UNSETTLED,
            )
        return pending.attempt_id

    async def _look_up_after_timeout(
        self, pending: Pending, why: str, logger: Any
    ) -> act.ContactResult:
        """A timed-out request may have reached Twilio: look for it while it settles. Found:
        sent. Still nothing: a retryable error, and the retry reconciles (never a blind resend)."""
        deadline = min(self.settings.twilio_reconcile_settle_seconds, TIMEOUT_LOOK_UP_SECONDS)
        waited = 0.0
        while True:
            try:
                verdict = await self._ask_provider(pending)
            except ApplicationError:
                verdict = Reconciliation(Verdict.UNSETTLED)
            if verdict.verdict is Verdict.SENT:
                logger.info("timed-out contact found at Twilio", sid=verdict.sid)
                return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=verdict.sid)
            if verdict.verdict is Verdict.AMBIGUOUS:
                return act.ContactResult(outcome=ContactOutcome.UNKNOWN, reason=verdict.reason)
            if waited >= deadline:
                raise ApplicationError(
                    f"outcome unknown, not yet in Twilio's record: {why}",
                    type=ERROR_PROVIDER_UNSETTLED,
                )
            await asyncio.sleep(1.0)
            waited += 1.0

    async def _ask_provider(self, pending: Pending) -> Reconciliation:
        try:
            return await reconcile(
                self.messenger,
                self.ledger,
                pending,
                utc_now(),
                self.settings.twilio_reconcile_settle_seconds,
            )
        except TransientProviderError as exc:
            raise ApplicationError(
                f"cannot ask Twilio what an earlier attempt sent ({exc.code}): {exc.reason}",
                type=ERROR_PROVIDER_UNAVAILABLE,
            ) from exc


def _replay(previous: Attempt, logger: Any) -> act.ContactResult:
    """The answer an earlier attempt for the same key already earned; nothing is sent."""
    logger.info("contact already attempted; not sent again", status=previous.status.value)
    if previous.status is AttemptStatus.REJECTED:
        raise _rejected(previous.reason, previous.error_code)
    if previous.status is AttemptStatus.UNKNOWN:
        return act.ContactResult(outcome=ContactOutcome.UNKNOWN, reason=previous.reason)
    return act.ContactResult(
        outcome=ContactOutcome.SENT,
        provider_sid=previous.provider_sid,
        text_sha256=previous.body_sha256,
    )


def _rejected(reason: str, code: str | None) -> ApplicationError:
    return ApplicationError(reason, code, type=act.ERROR_CONTACT_REJECTED, non_retryable=True)


def _misconfigured(exc: ProviderRejectedError, logger: Any) -> ApplicationError:
    """Twilio refused *our* request: bad credentials, a sender we may not use, a malformed call.

    Not the borrower's fault, so no fallback to another channel (it would fail the same way),
    and not non-retryable either: that would end the contact for good. Retrying with backoff
    keeps the case waiting on this step while an operator fixes the configuration and restarts
    the workers; the workflow's schedule-to-close deadline bounds how long.
    """
    logger.error("Twilio refused our request; check the Twilio settings", code=exc.code)
    return ApplicationError(
        f"Twilio refused the request ({exc.code}): {exc.reason}; check the Twilio settings",
        type=ERROR_PROVIDER_MISCONFIGURED,
    )
