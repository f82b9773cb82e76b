"""The action table: who may do what to a case, in which stages, and how to say it.

One truth for role rules (DESIGN §3, STYLE 2b). ``api/auth.py`` answers 403 from it, the case
workflow's validators and the pure core refuse from it, the audit timeline decodes inputs by it,
and the console will draw its forms from it. Where wave 1's two copies disagreed, this table
follows DESIGN §3: payments come from the loan system (``system``) and ``admin``, and a
supervisor only with a receipt reference; a close is the loan system's (recall, deceased,
bankruptcy) or a supervisor's; an operator *requests* a close or an amount correction and a
supervisor approves it. ``borrower`` is an actor for the borrower's own page, never an API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from models import case as c
from models.common import TERMINAL_STAGES, Role, Stage

OPEN_STAGES = frozenset(s for s in Stage if not s.terminal)
ALL_STAGES = frozenset(Stage)


class Kind(StrEnum):
    UPDATE = "update"  # validated, answered: a person's or system's action
    SIGNAL = "signal"  # fire-and-forget machine event, applied by the core as it comes
    READ = "read"  # an API read or a case start: no input to the case


class ActionName(StrEnum):
    OVERDUE_EVENT = "overdue_event"
    LIST_CASES = "list_cases"
    READ_CASE = "read_case"
    READ_HISTORY = "read_history"
    EXPORT_CASE = "export_case"
    PAYMENT = "payment"
    SCHEDULE_VISIT = "schedule_visit"
    OFFER_SLOTS = "offer_slots"
    VISIT_ANSWER = "visit_answer"
    VISIT_OUTCOME = "visit_outcome"
    NEGOTIATION = "negotiation"
    HARDSHIP = "hardship"
    DISPUTE = "dispute"
    NOTE = "note"
    CEASE_CONTACT = "cease_contact"
    MANUAL_CONTACT = "manual_contact"
    ESCALATION = "escalation"
    CLOSE = "close"
    REQUEST_CHANGE = "request_change"
    DECIDE_REQUEST = "decide_request"
    REASSIGN = "reassign"
    AMOUNT_UPDATE = "amount_update"
    OVERDUE_UPDATE = "overdue_update"
    CONTACT_STATUS = "contact_status"
    IVR_RESPONSE = "ivr_response"
    INBOUND_MESSAGE = "inbound_message"
    CHANNEL_PREFERENCE = "channel_preference"
    CODEC = "codec"  # the Temporal UI's codec endpoint: read (decrypt) case payloads


@dataclass(frozen=True)
class ActionSpec:
    name: ActionName
    kind: Kind
    roles: frozenset[Role]
    stages: frozenset[Stage]
    phrase_en: str  # completes "role 'auditor' may not ..."
    phrase_zh: str
    input: type[BaseModel] | None = None
    handler: str | None = None  # the workflow's update or signal name, where there is one
    # Roles allowed only under a condition the case checks (the sentence says which).
    limited: Mapping[Role, str] | None = None

    def phrase(self, locale: str = "en") -> str:
        return self.phrase_zh if locale == "zh-CN" else self.phrase_en


Row = tuple[ActionName, Kind, str, frozenset[Stage], type[BaseModel] | None, str]
PEOPLE = "operator supervisor admin"
READERS = "operator supervisor auditor admin"
OPEN, ALL, VISIT = OPEN_STAGES, ALL_STAGES, frozenset({Stage.VISIT})
N, R, U, SIG = ActionName, Kind.READ, Kind.UPDATE, Kind.SIGNAL

PHRASES: Mapping[ActionName, tuple[str, str]] = {
    N.OVERDUE_EVENT: ("report overdue loans", "报告逾期贷款"),
    N.LIST_CASES: ("list cases", "查看案件列表"),
    N.READ_CASE: ("read cases", "查看案件"),
    N.READ_HISTORY: ("read case histories", "查看案件历史"),
    N.EXPORT_CASE: ("export cases for audit", "导出案件供审计"),
    N.PAYMENT: ("record payments", "登记还款"),
    N.SCHEDULE_VISIT: ("schedule visits", "安排上门拜访"),
    N.OFFER_SLOTS: ("offer visit slots", "提供拜访时段"),
    N.VISIT_ANSWER: ("answer visit proposals", "答复拜访时间"),
    N.VISIT_OUTCOME: ("record visit outcomes", "登记拜访结果"),
    N.NEGOTIATION: ("record negotiations", "登记协商结果"),
    N.HARDSHIP: ("grant hardship pauses", "批准困难暂停"),
    N.DISPUTE: ("handle disputes", "处理争议"),
    N.NOTE: ("add notes", "添加备注"),
    N.CEASE_CONTACT: ("record cease-contact requests", "登记停止联系请求"),
    N.MANUAL_CONTACT: ("log phone calls", "登记人工电话"),
    N.ESCALATION: ("decide escalations", "决定升级处理"),
    N.CLOSE: ("close cases", "结案"),
    N.REQUEST_CHANGE: ("request a close or an amount correction", "申请结案或更正金额"),
    N.DECIDE_REQUEST: ("approve or decline requests", "审批申请"),
    N.REASSIGN: ("reassign agents", "重新分配催收员"),
    N.AMOUNT_UPDATE: ("change the amount owed", "变更欠款金额"),
    N.OVERDUE_UPDATE: ("report repeat overdue events", "报告重复逾期事件"),
    N.CONTACT_STATUS: ("report delivery statuses", "回报送达状态"),
    N.IVR_RESPONSE: ("report key presses", "回报按键"),
    N.INBOUND_MESSAGE: ("report inbound messages", "回报来信"),
    N.CHANNEL_PREFERENCE: ("change contact preferences", "变更联系偏好"),
    N.CODEC: ("decode or encode Temporal payloads", "解码或编码 Temporal 负载"),
}

# Roles allowed only under a condition the case checks; the sentence says which.
LIMITS: Mapping[ActionName, Mapping[Role, str]] = {
    N.PAYMENT: {Role.SUPERVISOR: "a supervisor's manual payment needs a receipt reference"},
    N.DISPUTE: {
        Role.OPERATOR: "an operator may not resolve with a corrected amount; request one",
        Role.BORROWER: "a borrower may only open a dispute",
    },
}

# name, kind, roles, stages, input contract, workflow handler ("" where there is none yet)
_ROWS: tuple[Row, ...] = (
    (N.OVERDUE_EVENT, R, "system admin", ALL, None, ""),
    (N.LIST_CASES, R, READERS, ALL, None, ""),
    (N.READ_CASE, R, READERS, ALL, None, ""),
    (N.READ_HISTORY, R, READERS, ALL, None, ""),
    (N.EXPORT_CASE, R, "supervisor auditor admin", ALL, None, ""),
    (N.PAYMENT, U, "system supervisor admin", ALL, c.PaymentInput, c.UPDATE_PAYMENT),
    (N.SCHEDULE_VISIT, U, PEOPLE, VISIT, c.ScheduleVisitInput, c.UPDATE_SCHEDULE_VISIT),
    (N.OFFER_SLOTS, U, "system " + PEOPLE, VISIT, c.OfferSlotsInput, c.UPDATE_OFFER_SLOTS),
    (N.VISIT_ANSWER, U, PEOPLE + " borrower", VISIT, c.VisitAnswerInput, c.UPDATE_VISIT_ANSWER),
    (N.VISIT_OUTCOME, U, PEOPLE, VISIT, c.RecordVisitInput, c.UPDATE_RECORD_VISIT),
    (N.NEGOTIATION, U, PEOPLE + " borrower", OPEN, c.NegotiationInput, c.UPDATE_NEGOTIATION),
    (N.HARDSHIP, U, PEOPLE, OPEN, c.HardshipInput, c.UPDATE_HARDSHIP),
    (N.DISPUTE, U, PEOPLE + " borrower", OPEN, c.DisputeInput, c.UPDATE_DISPUTE),
    (N.NOTE, U, PEOPLE, OPEN, c.NoteInput, c.UPDATE_NOTE),
    (N.CEASE_CONTACT, U, PEOPLE + " borrower", OPEN, c.CeaseContactInput, c.UPDATE_CEASE_CONTACT),
    (N.MANUAL_CONTACT, U, PEOPLE, OPEN, c.ManualContactInput, c.UPDATE_MANUAL_CONTACT),
    (N.ESCALATION, U, "supervisor admin", frozenset({Stage.ESCALATED}), c.EscalationInput,
     c.UPDATE_ESCALATION),
    (N.CLOSE, U, "system supervisor admin", OPEN, c.CloseInput, c.UPDATE_CLOSE),
    (N.REQUEST_CHANGE, U, PEOPLE, OPEN, c.ChangeRequestInput, c.UPDATE_REQUEST_CHANGE),
    (N.DECIDE_REQUEST, U, "supervisor admin", OPEN, c.DecideRequestInput, c.UPDATE_DECIDE_REQUEST),
    (N.REASSIGN, U, "supervisor admin", OPEN, c.ReassignInput, c.UPDATE_REASSIGN),
    (N.AMOUNT_UPDATE, SIG, "system supervisor admin", OPEN, c.AmountUpdate, c.SIGNAL_AMOUNT),
    (N.OVERDUE_UPDATE, U, "system admin", OPEN, c.OverdueUpdateInput, c.UPDATE_OVERDUE),
    (N.CONTACT_STATUS, SIG, "system", ALL, c.ContactStatusEvent, c.SIGNAL_CONTACT_STATUS),
    (N.IVR_RESPONSE, SIG, "system", ALL, c.IvrResponse, c.SIGNAL_IVR),
    (N.INBOUND_MESSAGE, SIG, "system", ALL, c.InboundMessage, c.SIGNAL_INBOUND),
    (N.CHANNEL_PREFERENCE, SIG, "system " + PEOPLE + " borrower", ALL, c.ChannelPreference,
     c.SIGNAL_OPT),
    (N.CODEC, R, "supervisor auditor admin", ALL, None, ""),
)  # fmt: skip


def _build(row: Row) -> ActionSpec:
    name, kind, roles, stages, inp, handler = row
    en, zh = PHRASES[name]
    return ActionSpec(
        name=name,
        kind=kind,
        roles=frozenset(Role(r) for r in roles.split()),
        stages=stages,
        phrase_en=en,
        phrase_zh=zh,
        input=inp,
        handler=handler or None,
        limited=LIMITS.get(name),
    )


ACTIONS: Mapping[ActionName, ActionSpec] = {row[0]: _build(row) for row in _ROWS}

# The workflow's signal for payments shares the payment action's rules.
SIGNAL_PAYMENT_SPEC = ACTIONS[N.PAYMENT]


def spec(name: ActionName) -> ActionSpec:
    return ACTIONS[name]


def allowed(role: Role, name: ActionName) -> bool:
    return role in ACTIONS[name].roles


def roles_for(name: ActionName) -> list[Role]:
    return [role for role in Role if allowed(role, name)]


def by_handler(kind: Kind) -> dict[str, ActionSpec]:
    """Handler name -> spec for the workflow's updates or signals (the timeline decodes by it)."""
    found = {s.handler: s for s in ACTIONS.values() if s.kind is kind and s.handler}
    if kind is Kind.SIGNAL:
        found[c.SIGNAL_PAYMENT] = SIGNAL_PAYMENT_SPEC
    return found


def role_refusal(role: Role, name: ActionName, locale: str = "en") -> str:
    """The sentence for a role outside the table."""
    action = ACTIONS[name]
    names = ", ".join(r.value for r in roles_for(name))
    if locale == "zh-CN":
        return f"角色 '{role.value}' 不能{action.phrase_zh}；允许的角色：{names}。"
    return f"Role '{role.value}' may not {action.phrase_en}; it needs one of: {names}."


__all__ = ["ACTIONS", "TERMINAL_STAGES", "ActionName", "ActionSpec", "Kind"]
