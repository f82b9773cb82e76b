"""Which strategy a new case gets, loaded from the strategy directory.

Files are re-read when they change, so a new strategy version takes effect for new cases
without a restart; a running case keeps the strategy it started with (it travels in its input).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from models.settings import Settings
from models.strategy import Strategy, StrategyError, choose_strategy, load_strategy, refuse_demo

NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"


class StrategyBook:
    def __init__(
        self,
        directory: Path,
        overrides: Mapping[str, Strategy] | None = None,
        *,
        allow_demo: bool = False,
    ) -> None:
        # Outside development a demo strategy is refused when an event names it (422).
        self._allow_demo = allow_demo
        self._directory = directory
        self._overrides = dict(overrides or {})
        self._cache: dict[str, tuple[float, Strategy]] = {}

    def get(self, name: str) -> Strategy:
        """The strategy called ``name``; raises StrategyError naming the known ones, or
        refusing a demo strategy outside development."""
        return refuse_demo(self._load(name), self._allow_demo)

    def _load(self, name: str) -> Strategy:
        if name in self._overrides:
            return self._overrides[name]
        path = self._directory / f"{name}.toml"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0
        cached = self._cache.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        strategy = load_strategy(name, self._directory)
        self._cache[name] = (mtime, strategy)
        return strategy

    def known(self) -> list[str]:
        names = {p.stem for p in self._directory.glob("*.toml")} | set(self._overrides)
        return sorted(names)

    def choose(self, loan_id: str, explicit: str | None, settings: Settings) -> Strategy:
        """The explicit strategy, else champion/challenger by a stable hash of the loan id."""
        name = explicit or choose_strategy(
            loan_id,
            settings.default_strategy,
            settings.challenger_strategy,
            settings.challenger_share,
        )
        return self.get(name)


__all__ = ["StrategyBook", "StrategyError"]
