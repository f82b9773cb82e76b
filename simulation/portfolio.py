"""The portfolio both engines run: one record, loan and borrower per index, from the seed."""

from __future__ import annotations

from datetime import date

from models.common import Borrower, Loan
from models.strategy import Strategy, choose_strategy, load_strategy
from simulation.behaviour import draw_profile, loan_id_for
from simulation.model import CaseRecord, SimConfig


def load_strategies(config: SimConfig) -> dict[str, Strategy]:
    names = {config.strategy, config.challenger}
    return {name: load_strategy(name, config.strategy_dir) for name in names if name}


def record(config: SimConfig, index: int, strategies: dict[str, Strategy], due: date) -> CaseRecord:
    if config.traits:
        from simulation.traits import traits_profile  # its imports reach the core

        profile = traits_profile(config.seed, index)
    else:
        profile = draw_profile(config.seed, index, config.mix)
    loan_id = loan_id_for(config.seed, index)
    name = choose_strategy(loan_id, config.strategy, config.challenger, config.share)
    return CaseRecord(profile=profile, loan_id=loan_id, strategy=strategies[name], due_date=due)


def records(config: SimConfig, strategies: dict[str, Strategy], due: date) -> list[CaseRecord]:
    return [record(config, i, strategies, due) for i in config.indices()]


def loan_of(rec: CaseRecord) -> Loan:
    return Loan(
        loan_id=rec.loan_id,
        currency="CNY",
        amount_overdue=rec.profile.amount,
        outstanding_balance=rec.profile.amount * 3,
        due_date=rec.due_date,
    )


def borrower_of(rec: CaseRecord, tz: str, regions: int) -> Borrower:
    i = rec.profile.index
    return Borrower(
        id=f"SB-{i:05d}",
        name=f"Borrower {i}",
        phone=f"+86138{i:08d}",
        timezone=tz,
        locale="zh-CN" if i % 2 else "en",
        region=f"sim-r{i % regions}",
    )
