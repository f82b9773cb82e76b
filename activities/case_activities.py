"""Every activity of the case workflow, on one class built with its clients.

The worker builds one ``CaseActivities`` (``from_settings``) and registers ``.all()``: bound
methods under the names in ``models/activities.py``. Each activity is idempotent, so Temporal may
retry any of them: contacts through the exactly-once ledger (``activities/contacts.py``), SQL
writes as upserts on natural keys. Only contracts go in and out, never table rows.

How provider errors reach the workflow: ``activities/exactly_once.py``.
"""

from __future__ import annotations

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
from activities.contacts import ContactLedger
from activities.db import Database
from activities.digest import escalation_digest
from activities.exactly_once import ExactlyOnceContacts
from activities.pace import Pace
from activities.twilio_client import (
    VOICE_LOCALES,
    ProviderResult,
    TwilioMessenger,
    build_twiml,
)
from activities.vault import outgoing
from activities.vault.store import Vault
from models import activities as act
from models.case import ContactOutcome
from models.common import Channel
from models.settings import Settings

log = structlog.get_logger(__name__)

# Said after the call's message while the call listens for one key (as the API's voice script).
GATHER_PROMPTS = {
    "zh-CN": "按1承诺还款，按2请求回电。",
    "en": "Press 1 to promise to pay, or 2 to ask for a call back.",
}


class CaseActivities(ExactlyOnceContacts):
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
        self.pace = Pace(settings.messaging_rate_per_second)
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
