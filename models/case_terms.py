"""The case contract's names and words: handler names, search attribute names, and the enums
its inputs and state share (re-exported by ``models.case``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from models.common import (
    PlausibleDatetime,
)

# Names of the workflow's handlers: the API, the CLI and tests all address them by these.
QUERY_STATE = "state"
UPDATE_PAYMENT = "record_payment"
UPDATE_SCHEDULE_VISIT = "schedule_visit"
UPDATE_RECORD_VISIT = "record_visit"
UPDATE_NEGOTIATION = "record_negotiation"
UPDATE_HARDSHIP = "request_hardship"
UPDATE_DISPUTE = "dispute"
UPDATE_NOTE = "add_note"
UPDATE_CEASE_CONTACT = "cease_contact"
UPDATE_ESCALATION = "decide_escalation"
UPDATE_CLOSE = "close_case"
UPDATE_REASSIGN = "reassign_agents"
UPDATE_OFFER_SLOTS = "offer_slots"
UPDATE_VISIT_ANSWER = "visit_answer"
UPDATE_MANUAL_CONTACT = "log_contact"
UPDATE_REQUEST_CHANGE = "request_change"
UPDATE_DECIDE_REQUEST = "decide_request"
UPDATE_OVERDUE = "overdue_update"
SIGNAL_PAYMENT = "payment_received"
SIGNAL_AMOUNT = "amount_updated"
SIGNAL_CONTACT_STATUS = "contact_status"
SIGNAL_IVR = "ivr_response"
SIGNAL_INBOUND = "inbound_message"
SIGNAL_OPT = "channel_preference"

# Names of the case's custom search attributes (the workflow upserts them; the API lists cases
# by them). Types: CaseStage keyword, DaysPastDue int, Region keyword, AssignedAgents
# keyword list, Balance double, StrategyId keyword.
SA_NAME_STAGE = "CaseStage"
SA_NAME_DPD = "DaysPastDue"
SA_NAME_REGION = "Region"
SA_NAME_AGENTS = "AssignedAgents"
SA_NAME_BALANCE = "Balance"
SA_NAME_STRATEGY = "StrategyId"


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. 2026-11-30T10:00:00+08:00")
    return value


AwareDatetime = Annotated[PlausibleDatetime, AfterValidator(_aware)]


class DefaultReason(StrEnum):
    UNEMPLOYMENT = "unemployment"
    ILLNESS = "illness"
    BUSINESS_FAILURE = "business_failure"
    FORGOT = "forgot"
    DISPUTE = "dispute"
    OTHER = "other"


class VisitOutcome(StrEnum):
    MET = "met"
    NOT_HOME = "not_home"
    REFUSED = "refused"
    MOVED = "moved"
    UNSAFE = "unsafe"


class CloseReason(StrEnum):
    DECEASED = "deceased"
    BANKRUPTCY = "bankruptcy"
    FRAUD = "fraud"
    RECALLED = "recalled"


class EscalationDecision(StrEnum):
    ANOTHER_VISIT = "another_visit"
    SETTLEMENT = "settlement"
    LEGAL = "legal"
    WRITE_OFF = "write_off"


class ContactOutcome(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    DEFERRED = "deferred"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
