"""The translation catalogue (zh-CN, en) and how a request's language is chosen.

The language is, in order: the ``lang`` cookie (the switcher sets it), the logged-in user's
setting, the browser's ``Accept-Language``, zh-CN. Every string a screen shows comes from
``locales/<lang>.toml``; the two files hold the same keys (tests/web/test_i18n.py checks).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LOCALES_DIR = Path(__file__).parent / "locales"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(language: str) -> Mapping[str, str]:
    with (LOCALES_DIR / f"{language}.toml").open("rb") as handle:
        return _flatten(tomllib.load(handle))


def known(value: str | None) -> str | None:
    """The supported language a tag names (``zh``, ``zh-TW``, ``en-GB``...), or None."""
    if not value:
        return None
    tag = value.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language by the header's q-values (ties keep the header's order)."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        language = known(tag)
        if language and weight > 0:
            choices.append((-weight, index, language))
    return min(choices)[2] if choices else None


def choose(cookie: str | None, user_setting: str | None, accept: str | None) -> str:
    return known(cookie) or known(user_setting) or from_accept_language(accept) or DEFAULT_LANGUAGE


class Translator:
    """``t("key", name=...)``: the string in this language, falling back to en, then the key."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._strings = catalogue(language)

    def __call__(self, key: str, **params: Any) -> str:
        text = self._strings.get(key) or catalogue("en").get(key) or key
        return text.format(**params) if params else text
