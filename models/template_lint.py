"""The conduct rules for message templates (DESIGN §5): the company named, an opt-out line in
every SMS, no threatening or shaming word in either language, at most two SMS segments with
the longest name and link; and how a template is filled and counted in segments."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from models.common import SUPPORTED_LOCALES, Channel

if TYPE_CHECKING:  # the strategy validates its templates with this module: no import cycle
    from models.strategy import Strategy, Template

# Templates the workflow itself sends, beyond the reminder cadence.
REQUIRED_SMS_TEMPLATES = (
    "visit_proposal",
    "visit_reminder",
    "installment_reminder",
    "promise_reminder",
    "thank_you",
)

# Words no collection message may carry: threats, shaming, intimidation (Reg F §1006.14,
# the Chinese consumer-loan collection conduct rules). Matched case-insensitively.
BANNED_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "arrest",
        "jail",
        "prison",
        "police",
        "sue you",
        "lawsuit",
        "criminal",
        "shame",
        "deadbeat",
        "liar",
        "thief",
        "fraudster",
        "expose",
        "your employer",
        "your family",
        "neighbours",
        "neighbors",
        "or else",
        "last chance",
        "seize",
    ),
    "zh-CN": (
        "逮捕",
        "坐牢",
        "监狱",
        "报警",
        "警察",
        "起诉你",
        "犯罪",
        "老赖",
        "骗子",
        "曝光",
        "通讯录",
        "你的家人",
        "单位",
        "后果自负",
        "否则",
        "丢人",
        "没脸",
        "强制执行",
        "拘留",
    ),
}

OPT_OUT_MARKERS: dict[str, tuple[str, ...]] = {
    "en": ("reply stop",),
    "zh-CN": ("退订",),
}


class TemplateLintError(ValueError):
    pass


def lint_template(name: str, template: Template, channel: Channel, strategy: Strategy) -> None:
    """Refuse a template that would break the conduct rules, naming the template and the word."""
    companies = {"en": strategy.company_name, "zh-CN": strategy.company_name_zh}
    for locale in SUPPORTED_LOCALES:
        # The {company} placeholder is filled from the strategy, so it counts as naming it.
        text = template.text(locale).replace("{company}", companies[locale])
        lowered = text.lower()
        if companies[locale].lower() not in lowered:
            raise TemplateLintError(
                f"template {name!r} ({locale}) must name the company {companies[locale]!r}"
            )
        for word in BANNED_WORDS[locale]:
            if word in lowered:
                raise TemplateLintError(
                    f"template {name!r} ({locale}) contains the forbidden word {word!r}"
                )
        if channel is Channel.SMS and not any(m in lowered for m in OPT_OUT_MARKERS[locale]):
            raise TemplateLintError(
                f"SMS template {name!r} ({locale}) must carry an opt-out line "
                f"({' / '.join(OPT_OUT_MARKERS[locale])})"
            )
        if channel is Channel.SMS:
            worst = render(
                template, locale, {**LONGEST_FIELDS[locale], "company": companies[locale]}
            )
            if sms_segments(worst) > MAX_SMS_SEGMENTS:
                raise TemplateLintError(
                    f"SMS template {name!r} ({locale}) takes {sms_segments(worst)} SMS segments "
                    f"with a long name and the link; at most {MAX_SMS_SEGMENTS} are allowed"
                )


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
TEMPLATE_FIELDS = frozenset(
    {
        "name",
        "company",
        "amount",
        "currency",
        "due_date",
        "visit_time",
        "index",
        "count",
        "date",
        "link",
    }
)
# ``{link}`` is left in the text the workflow renders; the send activity mints the borrower's
# link and puts it there (activities/links.py), so the workflow never sees a token.
LINK_FIELD = "{link}"
MAX_SMS_SEGMENTS = 2
# The link as long as a production one may be: https, a 26-character host, /b/, a 22-character
# token. The lint fills every field with a value this long, so a real send fits as well.
LONGEST_LINK = "https://pay.collect.example.com.cn/b/" + "x" * 22
LONGEST_FIELDS: dict[str, dict[str, str]] = {
    locale: {
        "name": name,
        "amount": "1234567.89",
        "currency": "CNY",
        "due_date": "2026-12-31",
        "date": "2026-12-31",
        "visit_time": visit,
        "index": "12",
        "count": "12",
        "days": "14",
        "link": LONGEST_LINK,
    }
    for locale, name, visit in (
        ("en", "Alexandra Catherine Montgomery-Smith", "Thu 31 Dec 19:30, Fri 1 Jan 10:00"),
        ("zh-CN", "欧阳娜娜丽莎", "12月31日 19:30、1月1日 10:00"),
    )
}
# GSM 03.38: the basic set and the extension set (which takes two septets).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS segments the text takes: GSM-7 (160, or 153 each when split) when every
    character is in the GSM set, else UCS-2 (70, or 67 each), counted in UTF-16 units."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units, single, part = sum(2 if ch in GSM_EXTENDED else 1 for ch in text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // part)


def render(template: Template, locale: str, fields: dict[str, str]) -> str:
    """Fill ``{placeholders}``; unknown ones are left visible rather than crashing a send."""
    text = template.text(locale)
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group(0)), text)
