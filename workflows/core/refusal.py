"""Refusals: why an action may not be taken now, as a code, its parameters and a sentence.

Screens translate by code; the sentences here are the defaults in en and zh-CN. Every refusal
the core raises has an entry, so a code without a sentence cannot be raised by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping

SENTENCES: Mapping[str, tuple[str, str]] = {
    "role": (
        "Role '{role}' may not {phrase}; it needs one of: {roles}.",
        "角色 '{role}' 不能{phrase_zh}；允许的角色：{roles}。",
    ),
    "closed": (
        "The case is closed ({stage}); it accepts no further actions.",
        "案件已结束（{stage}），不再接受操作。",
    ),
    "stage": (
        "Cannot {phrase}: the case is in stage '{stage}'; this is possible in: {stages}.",
        "无法{phrase_zh}：案件处于 '{stage}' 阶段，仅可在 {stages} 阶段进行。",
    ),
    "paused": (
        "Contact and visits are paused: {why}.",
        "联系与上门已暂停：{why}。",
    ),
    "receipt_needed": (
        "A supervisor's manual payment needs 'receipt_ref', the receipt it was taken on.",
        "主管手工登记还款须提供收据编号 'receipt_ref'。",
    ),
    "amount_owner": (
        "Only the loan system or a supervisor may change the amount owed; an operator requests "
        "a correction for a supervisor to approve.",
        "只有贷款系统或主管可以变更欠款金额；催收员可提交更正申请，由主管审批。",
    ),
    "borrower_open_only": (
        "A borrower may open a dispute; a member of staff resolves it.",
        "借款人可以发起争议，由工作人员处理。",
    ),
    "no_visit": ("No visit is being arranged right now.", "目前没有正在安排的拜访。"),
    "not_offered": (
        "The slot {slot} is not one of the offered slots.",
        "时段 {slot} 不在提供的时段之中。",
    ),
    "in_past": (
        "The time {at} is in the past; choose a later one.",
        "时间 {at} 已过，请选择之后的时间。",
    ),
    "outside_hours": (
        "{at} borrower time is outside the contact hours {start}-{end}.",
        "借款人当地时间 {at} 不在可联系时段 {start}-{end} 内。",
    ),
    "collectors": (
        "A field visit needs at least {needed} collectors (conduct rules); {given} given.",
        "上门拜访至少需要 {needed} 名催收员（行为规范）；当前 {given} 名。",
    ),
    "not_scheduled": (
        "No visit has been scheduled yet; a borrower must accept a slot first.",
        "尚未安排拜访；需借款人先接受一个时段。",
    ),
    "before_slot": (
        "The visit slot begins at {at}; no outcome may be recorded before it.",
        "拜访时段于 {at} 开始，开始前不能登记结果。",
    ),
    "terms": ("{problem}", "{problem}"),
    "promise_window": (
        "A promise must fall within {days} days; {proposed} proposed.",
        "承诺还款日须在 {days} 天之内；所提为 {proposed} 天。",
    ),
    "promise_amount": (
        "The promised amount {amount} exceeds the balance {balance}.",
        "承诺金额 {amount} 超过了待还余额 {balance}。",
    ),
    "unaffordable": (
        "An installment of {installment} is more than {share}% of the borrower's disposable "
        "income of {disposable} a month (at most {limit} per installment); propose more "
        "installments or a hardship grace.",
        "每期还款 {installment} 超过借款人每月可支配收入 {disposable} 的 {share}%"
        "（每期最多 {limit}）；请增加期数或提供困难宽限期。",
    ),
    "grace_limit": (
        "A hardship pause is at most {max} days, and at most {graces} per case; {why}.",
        "困难暂停最长 {max} 天，每个案件最多 {graces} 次；{why}。",
    ),
    "dispute_state": ("{why}", "{why}"),
    "preferred_hours": (
        "Preferred hours {start}-{end} must lie inside the contact hours {window_start}-"
        "{window_end}.",
        "偏好时段 {start}-{end} 须在可联系时段 {window_start}-{window_end} 之内。",
    ),
    "already": ("{what} is already in force on this case.", "本案件已{what}。"),
    "gate": (
        "The contact rules do not allow a {channel} at {at}: {why}.",
        "联系规则不允许在 {at} 进行{channel}：{why}。",
    ),
    "legal_dpd": (
        "Legal action needs at least {needed} days past due; this loan is {dpd}.",
        "法律程序需逾期至少 {needed} 天；本贷款逾期 {dpd} 天。",
    ),
    "settlement": ("{why}", "{why}"),
    "no_request": ("There is no pending request number {no}.", "没有编号为 {no} 的待审批申请。"),
    "currency": (
        "The event is in {got} but the case is in {currency}; it was refused whole.",
        "事件币种为 {got}，案件币种为 {currency}；整体拒绝。",
    ),
    "stale": (
        "The event is as of {as_of}, older than the case's {known}; it was refused whole.",
        "事件时间 {as_of} 早于案件已知的 {known}；整体拒绝。",
    ),
}


class Refusal(Exception):
    """Raised by ``available`` and ``check``; carries everything a screen needs."""

    def __init__(self, code: str, **params: str) -> None:
        self.code = code
        self.params = params
        en, zh = SENTENCES[code]
        self.en = en.format(**params)
        self.zh = zh.format(**params)
        super().__init__(self.en)

    def sentence(self, locale: str = "en") -> str:
        return self.zh if locale == "zh-CN" else self.en
