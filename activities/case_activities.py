"""Every activity of the case workflow, on one class built with its clients.

The worker builds one ``CaseActivities`` (``from_settings``) and registers ``.all()``: bound
methods under the names in ``models/activities.py``. Each activity is idempotent, so Temporal may
retry any of them: contacts through the exactly-once ledger (``activities/contacts.py``), SQL
writes as upserts on natural keys. Only contracts go in and out, never table rows.

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
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from twilio.twiml.voice_response import VoiceResponse

from activities import agents, legal, links, projection, scan
from activities.borrower_contacts import other_loan_contacts
from activities.contacts import Attempt, ContactLedger, Pending, mask_phone, mask_phones_in
from activities.db import Database
from activities.digest import escalation_digest
from activities.reconcile import Reconciliation, Verdict, reconcile
from activities.twilio_client import (
    VOICE_LOCALES,
    PermanentContactError,
    ProviderRejectedError,
    ProviderResult,
    TransientProviderError,
    TwilioMessenger,
    build_twiml,
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
# Said after the call's message while the call listens for one key (as the API's voice script).
GATHER_PROMPTS = {
    "zh-CN": "按1承诺还款，按2请求回电。",
    "en": "Press 1 to promise to pay, or 2 to ask for a call back.",
}


class CaseActivities:
    def __init__(
        self,
        db: Database,
        messenger: TwilioMessenger,
        settings: Settings,
        temporal_client: Client | None = None,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.settings = settings
        self.temporal_client = temporal_client
        self.ledger = ContactLedger(db)
        self._vault: Vault | None = None
        self._base = settings.public_base_url.rstrip("/")

    @classmethod
    async def from_settings(
        cls, settings: Settings, *, temporal_client: Client | None = None
    ) -> CaseActivities:
        """The database and the Twilio client the settings name (the schema is migrated by the
        CLI, not here). Built in the running loop: the Twilio client opens an aiohttp session."""
        messenger = TwilioMessenger(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            base_url=settings.twilio_base_url,
            from_number=settings.twilio_from_number,
            status_callback_base=settings.public_base_url,
            timeout_seconds=settings.twilio_timeout_seconds,
        )
        return cls(Database(settings.database_url), messenger, settings, temporal_client)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.send_sms,
            self.place_call,
            self.assign_field_agents,
            self.notify_supervisor,
            self.sync_case,
            self.borrower_contacts,
            self.escalation_digest,
            self.hand_off_to_legal,
            self.scan_overdue_loans,
        ]

    async def aclose(self) -> None:
        """Close the Twilio session and the database pool: this object owns its clients."""
        try:
            await self.messenger.aclose()
        finally:
            await self.db.dispose()

    # ------------------------------------------------------------------ contacts

    @property
    def vault(self) -> Vault:
        """Built on first use: a worker that never sends does not need the vault's keys."""
        if self._vault is None:
            self._vault = Vault.from_settings(self.db, self.settings)
            self.ledger.vault = self._vault  # opens sealed recipients for the sweep
        return self._vault

    @activity.defn(name=act.SEND_SMS)
    async def send_sms(self, inp: act.SendSmsInput) -> act.ContactResult:
        out = await outgoing.prepare(self.vault, Channel.SMS, inp.borrower_id, inp.to, inp.body)
        if isinstance(out, outgoing.Blocked):
            return _blocked(out, inp.key)
        callback = self._status_callback(inp.case_id, inp.key)
        # The borrower's page link: minted here, so the workflow never holds a token.
        body = await links.with_link(
            self.db,
            self.settings.session_secret,
            self._base,
            body=out.text,
            case_id=inp.case_id,
            loan_id=inp.loan_id,
            key=inp.key,
        )

        def send() -> Awaitable[ProviderResult]:
            return self.messenger.send_sms(out.to, body, status_callback=callback)

        return await self._contact(inp.key, inp.case_id, Channel.SMS, out, body, send)

    @activity.defn(name=act.PLACE_CALL)
    async def place_call(self, inp: act.PlaceCallInput) -> act.ContactResult:
        out = await outgoing.prepare(self.vault, Channel.CALL, inp.borrower_id, inp.to, inp.message)
        if isinstance(out, outgoing.Blocked):
            return _blocked(out, inp.key)
        try:
            twiml = self._twiml(inp.model_copy(update={"message": out.text}))
        except ValueError as exc:  # a locale without a voice: no retry can fix the input
            raise ApplicationError(str(exc), type="BadContactRequest", non_retryable=True) from exc
        callback = self._status_callback(inp.case_id, inp.key)

        def send() -> Awaitable[ProviderResult]:
            return self.messenger.place_call(out.to, twiml, status_callback=callback)

        return await self._contact(inp.key, inp.case_id, Channel.CALL, out, out.text, send)

    def _twiml(self, inp: act.PlaceCallInput) -> str:
        if inp.gather:
            gather_url = self._webhook("gather", case_id=inp.case_id, locale=inp.locale)
            prompt = GATHER_PROMPTS.get(inp.locale, GATHER_PROMPTS["en"])
            return build_twiml(inp.message, inp.locale, gather_action_url=gather_url, prompt=prompt)
        language = VOICE_LOCALES.get(inp.locale.split("-")[0].lower())
        if language is None:
            raise ValueError(f"no voice for locale {inp.locale!r}")
        response = VoiceResponse()
        response.say(inp.message, language=language)
        return str(response.to_xml(xml_declaration=False))

    def _status_callback(self, case_id: str, key: str) -> str:
        """The ledger key rides on the StatusCallback URL: Twilio keeps that URL with the
        message or call and calls it back as given, so every callback (and the sandbox's
        outbox) names the attempt it belongs to. Twilio's REST lists do not return it."""
        return self._webhook("status", case_id=case_id, key=key)

    def _webhook(self, kind: str, **query: str) -> str:
        return f"{self._base}/webhooks/twilio/{kind}?{urlencode(query)}"

    async def _contact(
        self,
        key: str,
        case_id: str,
        channel: Channel,
        out: outgoing.Outgoing,
        text: str,
        send: Callable[[], Awaitable[ProviderResult]],
    ) -> act.ContactResult:
        """The text's hash on every answer when the activity rendered it (DESIGN §10)."""
        result = await self._contact_once(key, case_id, channel, out, text, send)
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
            # The row's body and number are sealed: reconcile with the text and number in hand.
            pending = dataclasses.replace(claim.pending, body=text, body_sha256=None, to=to)
            attempt_id = await self._reconcile_pending(pending, logger)
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

    async def _reconcile_pending(self, pending: Pending, logger: Any) -> int | act.ContactResult:
        """An earlier attempt left no answer: Twilio's record decides. The attempt id to send
        on when Twilio holds nothing, else the answer. Never resends while Twilio cannot say."""
        verdict = await self._ask_provider(pending)
        logger.info("contact reconciled", verdict=verdict.verdict.value, sid=verdict.sid)
        if verdict.verdict is Verdict.SENT:
            return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=verdict.sid)
        if verdict.verdict is Verdict.AMBIGUOUS:
            return act.ContactResult(outcome=ContactOutcome.UNKNOWN, reason=verdict.reason)
        if verdict.verdict is Verdict.UNSETTLED:
            raise ApplicationError(
                "an earlier attempt's outcome is not yet in Twilio's record; looking again later",
                type=ERROR_PROVIDER_UNSETTLED,
            )
        if not await self.ledger.take_over(pending):
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

    # ------------------------------------------------------------------ bookkeeping

    @activity.defn(name=act.ASSIGN_FIELD_AGENTS)
    async def assign_field_agents(self, inp: act.AssignAgentsInput) -> act.AssignAgentsResult:
        result = await agents.assign_field_agents(self.db, inp)
        log.info(
            "field agents",
            case_id=inp.case_id,
            region=inp.region,
            day=inp.visit_day.isoformat(),
            agents=result.agents,
            reason=result.reason,
        )
        return result

    @activity.defn(name=act.NOTIFY_SUPERVISOR)
    async def notify_supervisor(self, inp: act.SupervisorAlert) -> None:
        """A log line at WARNING for the supervisors' alerting to pick up.

        Nothing is written to SQL here: the workflow records the same alert as an ``alert``
        case event (with its own seq) in the projection ``sync_case`` stores, so ``case_events``
        already holds it exactly once; a second row from here would need a seq of its own.
        """
        log.warning(
            "supervisor alert",
            key=inp.key,
            case_id=inp.case_id,
            loan_id=inp.loan_id,
            kind=inp.kind,
            message=inp.message,
        )

    @activity.defn(name=act.SYNC_CASE)
    async def sync_case(self, inp: act.CaseProjection) -> act.SyncResult:
        await projection.sync_case(self.db, inp)
        return act.SyncResult.of(inp.events)

    @activity.defn(name=act.BORROWER_CONTACTS)
    async def borrower_contacts(self, inp: act.BorrowerContactsInput) -> act.BorrowerContacts:
        """Read just before a case contacts the borrower: the caps count their other loans."""
        found = await other_loan_contacts(self.db, inp)
        return act.BorrowerContacts(contacts=found)

    @activity.defn(name=act.ESCALATION_DIGEST)
    async def escalation_digest(self, inp: act.DigestInput) -> act.EscalationDigest:
        """The supervisors' digest of the escalation queue (the schedule's workflow calls it)."""
        return await escalation_digest(self.db, inp)

    @activity.defn(name=act.HAND_OFF_TO_LEGAL)
    async def hand_off_to_legal(self, inp: act.LegalHandoffInput) -> act.LegalHandoffResult:
        result = await legal.hand_off_to_legal(self.db, inp, self.vault)
        log.info("case handed to legal", case_id=inp.case_id, reference=result.reference)
        return result

    @activity.defn(name=act.SCAN_OVERDUE_LOANS)
    async def scan_overdue_loans(self, inp: act.ScanInput) -> act.ScanResult:
        return await scan.scan_overdue_loans(self.db, self.temporal_client, self.settings, inp)


def _blocked(blocked: outgoing.Blocked, key: str) -> act.ContactResult:
    """Refused before the provider: the case records it as blocked, with the reason."""
    log.info("contact blocked", key=key, reason=blocked.reason)
    return act.ContactResult(outcome=ContactOutcome.BLOCKED, reason=blocked.reason)


def _replay(previous: Attempt, logger: Any) -> act.ContactResult:
    """The answer an earlier attempt for the same key already earned; nothing is sent."""
    logger.info("contact already attempted; not sent again", status=previous.status.value)
    if previous.status is AttemptStatus.REJECTED:
        raise _rejected(previous.reason, previous.error_code)
    if previous.status is AttemptStatus.UNKNOWN:
        return act.ContactResult(outcome=ContactOutcome.UNKNOWN, reason=previous.reason)
    return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid=previous.provider_sid)


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
