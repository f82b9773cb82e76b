"""Twilio webhooks: delivery and call status, inbound SMS, the voice script and key presses.

Every request must carry a valid ``X-Twilio-Signature`` for the URL Twilio called (the public
base URL plus path and query) or it is refused with 403 before anything is read from it.
CollectFlow's callback URLs carry ``?case_id=case-{loan_id}``; inbound SMS finds its cases by
the sender's phone number. Machine events become signals; the workflow is idempotent on the
provider's sid, and replays seen recently are not even sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from starlette.datastructures import FormData
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.voice_response import VoiceResponse

from activities.vault import dnc
from activities.vault.store import Vault
from api import delivery, metrics, store, vaulting
from api.deps import AppState, StateDep, TemporalClientDep
from api.errors import ApiError
from models import case as c
from models.common import Channel, classify_inbound

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks/twilio", tags=["twilio webhooks"])

CASE_ID = re.compile(r"^case-[A-Za-z0-9._-]{1,64}$")
TWIML = "application/xml"
_VOICE_LANGUAGE = {"zh-CN": "zh-CN", "en": "en-US"}
_SCRIPT = {
    "zh-CN": {
        "prompt": "您好，这里是{company}的还款提醒。按1承诺还款，按2请求回电。",
        "1": "谢谢，我们已记录您的还款承诺。再见。",
        "2": "谢谢，我们会尽快给您回电。再见。",
        "other": "抱歉，未能识别您的按键。再见。",
    },
    "en": {
        "prompt": "Hello, this is a payment reminder from {company}. "
        "Press 1 to promise to pay, or 2 to ask for a call back.",
        "1": "Thank you, we have noted your promise to pay. Goodbye.",
        "2": "Thank you, we will call you back soon. Goodbye.",
        "other": "Sorry, that key was not recognised. Goodbye.",
    },
}


def _documented(example: dict[str, str], *, case_id: bool = True) -> dict[str, Any]:
    """OpenAPI for a form-encoded Twilio request (the route reads the form itself, after the
    signature check, so FastAPI cannot infer it)."""
    parameters: list[dict[str, Any]] = [
        {
            "name": "X-Twilio-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Twilio's HMAC-SHA1 of the URL and the form, with the auth token",
        }
    ]
    if case_id:
        parameters.append(
            {
                "name": "case_id",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": CASE_ID.pattern},
                "example": "case-L-1001",
                "description": "put on CollectFlow's callback URLs",
            }
        )
    form = {"type": "object", "additionalProperties": {"type": "string"}}
    content = {"application/x-www-form-urlencoded": {"schema": form, "example": example}}
    return {"parameters": parameters, "requestBody": {"required": True, "content": content}}


class _Params(dict[str, list[str]]):
    """Form fields with every value, as RequestValidator signs repeated fields."""

    def getall(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str) -> str:
        values = self.get(name) or [""]
        return values[0].strip()


def signed_url(base_url: str, request: Request) -> str:
    """The URL Twilio signed: our public base URL, the path, and the query as sent."""
    query = request.url.query
    return base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def verified_form(request: Request, state: StateDep) -> _Params:
    """The form fields, once the signature proves Twilio sent them; 403 otherwise."""
    kind = request.url.path.rsplit("/", 1)[-1]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        metrics.WEBHOOKS.labels(kind, "forbidden").inc()
        raise ApiError(403, "missing or invalid X-Twilio-Signature")
    try:
        form: FormData = await request.form()
    except Exception as exc:  # malformed multipart/urlencoded: refuse, never 500
        metrics.WEBHOOKS.labels(kind, "malformed").inc()
        raise ApiError(400, "the webhook body is not a valid form") from exc
    params = _Params()
    for name, value in form.multi_items():
        if isinstance(value, str):
            params.setdefault(name, []).append(value)
    algorithm = get_signature_algorithm(
        request.headers.get("X-Twilio-Webhooks-Signature-Settings", "")
    )
    url = signed_url(state.settings.public_base_url, request)
    validator = RequestValidator(state.settings.twilio_auth_token)
    if not validator.validate(url, params, signature, algorithm):
        metrics.WEBHOOKS.labels(kind, "forbidden").inc()
        log.warning("twilio webhook refused: bad or missing signature", path=request.url.path)
        raise ApiError(403, "missing or invalid X-Twilio-Signature")
    return params


Form = Annotated[_Params, Depends(verified_form)]


def _case_id(request: Request) -> str | None:
    case_id = request.query_params.get("case_id", "")
    return case_id if CASE_ID.match(case_id) else None


async def _signal(client: Client, case_id: str, name: str, arg: Any) -> bool:
    """Signal one case; False when it is unknown or already closed."""
    try:
        await client.get_workflow_handle(case_id).signal(name, arg)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _once(
    state: AppState, client: Client, kind: str, key: str, case_id: str, name: str, arg: Any
) -> str:
    """Signal unless this exact callback was handled recently; the metric's result."""
    memo = f"{kind}:{case_id}:{key}"
    if state.recent_webhooks.seen(memo):
        result = "duplicate"
    elif await _signal(client, case_id, name, arg):
        state.recent_webhooks.remember(memo)
        result = "signalled"
    else:
        result = "ignored"
    metrics.WEBHOOKS.labels(kind, result).inc()
    log.info("twilio webhook", kind=kind, case_id=case_id, result=result)
    return result


async def _locale(state: AppState, request: Request, case_id: str | None) -> str:
    given = request.query_params.get("locale", "")
    if given in _SCRIPT:
        return given
    if case_id is not None and state.database is not None:
        try:
            found = await store.locale_for_case(state.database, case_id)
        except store.StoreUnavailable:
            found = None
        if found in _SCRIPT:
            return str(found)
    return "zh-CN"


def _twiml(response: VoiceResponse) -> Response:
    return Response(content=str(response.to_xml()), media_type=TWIML)


@router.post(
    "/status",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Message or call status callback",
    openapi_extra=_documented(
        {"MessageSid": "SM0123456789abcdef0123456789abcdef", "MessageStatus": "delivered"}
    ),
    responses={403: {"description": "missing or invalid X-Twilio-Signature"}},
)
async def status_callback(
    request: Request, form: Form, state: StateDep, client: TemporalClientDep
) -> Response:
    """MessageSid/MessageStatus or CallSid/CallStatus (+ ErrorCode, CallDuration) → the
    contact attempt's status on the case named by ``?case_id=``."""
    case_id = _case_id(request)
    sid = form.first("MessageSid") or form.first("CallSid")
    word = form.first("MessageStatus") or form.first("CallStatus")
    if case_id is None or not sid or not word:
        metrics.WEBHOOKS.labels("status", "ignored").inc()
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    duration = form.first("CallDuration")
    seconds = int(duration) if duration.isdigit() else None
    if state.database is not None:
        try:
            await delivery.record_status(state.database, sid, word, seconds)
        except store.StoreUnavailable as exc:  # the case still hears what it needs
            log.warning("status not recorded in the ledger", case_id=case_id, error=str(exc))
    if not delivery.case_hears(sid, word, seconds):
        metrics.WEBHOOKS.labels("status", "ledger").inc()
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    event = c.ContactStatusEvent(
        provider_sid=sid,
        status=word,
        error_code=form.first("ErrorCode") or None,
        duration_seconds=seconds,
    )
    await _once(state, client, "status", f"{sid}:{word}", case_id, c.SIGNAL_CONTACT_STATUS, event)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/inbound",
    summary="Inbound SMS (STOP / 退订 / TD / START, or a message)",
    openapi_extra=_documented(
        {"MessageSid": "SM0123456789abcdef0123456789abcdef", "From": "+8613800138000", "Body": "TD"}
    ),
    response_class=Response,
    responses={
        200: {"content": {TWIML: {}}, "description": "empty TwiML"},
        403: {"description": "missing or invalid X-Twilio-Signature"},
    },
)
async def inbound_sms(
    request: Request, form: Form, state: StateDep, client: TemporalClientDep
) -> Response:
    """The sender's open cases (by phone, or ``?case_id=``) get the message; the case itself
    tells opt-out and opt-in words from other text. No open case: ignored."""
    sid, sender = form.first("MessageSid"), form.first("From")
    text = (form.get("Body") or [""])[0][:2000]
    case_ids: list[str] = []
    vault = vaulting.vault_for(state.database, state.settings) if state.database else None
    if "case_id" in request.query_params:  # named by CollectFlow: that case or none
        given = _case_id(request)
        case_ids = [given] if given is not None else []
    elif sender and state.database is not None and vault is not None:
        try:
            case_ids = await store.open_case_ids_for_phone(
                state.database, sender, vault.phone_hmac(sender)
            )
        except store.StoreUnavailable as exc:
            raise ApiError(503, "the application database is unavailable", retry_after=5) from exc
    if vault is not None and sender and sid:
        await inbound_register(vault, sender, classify_inbound(text))
    if not sid or not case_ids:
        metrics.WEBHOOKS.labels("inbound", "ignored").inc()
    for case_id in case_ids if sid else []:
        message = c.InboundMessage(provider_sid=sid, text=text)
        if vault is not None and classify_inbound(text) == "message":  # DESIGN §10
            message = await vaulting.seal_free_text(vault, case_id, message, "inbound")
        await _once(state, client, "inbound", sid, case_id, c.SIGNAL_INBOUND, message)
    return _twiml(VoiceResponse())  # no auto-reply: Twilio confirms STOP/START itself


async def inbound_register(vault: Vault, sender: str, kind: str) -> None:
    """STOP puts the number on the do-not-contact register (SMS); START takes it off."""
    fingerprint = vault.phone_hmac(sender)
    if kind == "opt_out":
        await dnc.register(vault.db, fingerprint, [Channel.SMS], "inbound STOP", "inbound sms")
    elif kind == "opt_in":
        await dnc.forget(vault.db, fingerprint, Channel.SMS)


@router.post(
    "/voice",
    summary="The call script (TwiML) with a key-press prompt",
    openapi_extra=_documented(
        {"CallSid": "CA0123456789abcdef0123456789abcdef", "CallStatus": "in-progress"}
    ),
    response_class=Response,
    responses={
        200: {"content": {TWIML: {}}, "description": "TwiML"},
        403: {"description": "missing or invalid X-Twilio-Signature"},
    },
)
async def voice(request: Request, form: Form, state: StateDep) -> Response:
    """For calls placed with a URL instead of inline TwiML: a short reminder in the
    borrower's language and a one-key Gather posting to ``/gather`` for the same case."""
    case_id = _case_id(request)
    locale = await _locale(state, request, case_id)
    script = _SCRIPT[locale]
    try:
        strategy = state.strategies.get(state.settings.default_strategy)
        company = strategy.company_name_zh if locale == "zh-CN" else strategy.company_name
    except ValueError:
        company = "CollectFlow"
    action = state.settings.public_base_url.rstrip("/") + "/webhooks/twilio/gather"
    if case_id is not None:
        action += f"?case_id={case_id}&locale={locale}"
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=action, method="POST")
    gather.say(script["prompt"].format(company=company), language=_VOICE_LANGUAGE[locale])
    return _twiml(response)


@router.post(
    "/gather",
    summary="The key the borrower pressed (1 promise, 2 call back)",
    openapi_extra=_documented({"CallSid": "CA0123456789abcdef0123456789abcdef", "Digits": "1"}),
    response_class=Response,
    responses={
        200: {"content": {TWIML: {}}, "description": "TwiML thanking the borrower"},
        403: {"description": "missing or invalid X-Twilio-Signature"},
    },
)
async def gather(
    request: Request, form: Form, state: StateDep, client: TemporalClientDep
) -> Response:
    """Digits from the call's Gather → the case's IVR signal (``?case_id=``)."""
    case_id = _case_id(request)
    sid, digits = form.first("CallSid"), form.first("Digits")
    if case_id is not None and sid and digits:
        response = c.IvrResponse(provider_sid=sid, digits=digits[:8])
        await _once(state, client, "gather", f"{sid}:{digits}", case_id, c.SIGNAL_IVR, response)
    else:
        metrics.WEBHOOKS.labels("gather", "ignored").inc()
    locale = await _locale(state, request, case_id)
    script = _SCRIPT[locale]
    reply = VoiceResponse()
    words = script[digits] if digits in ("1", "2") else script["other"]
    reply.say(words, language=_VOICE_LANGUAGE[locale])
    reply.hangup()
    return _twiml(reply)
