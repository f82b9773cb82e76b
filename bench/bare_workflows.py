"""The bare workflows of the throughput benchmark (see ``bench/bare.py``).

Kept apart from the routes so the workflow sandbox imports nothing but these and ``models``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseInput, PaymentInput
    from models.common import case_id_for

TIMER_WORKFLOW = "BenchTimer"
LEDGER_WORKFLOW = "BenchLedger"
LEDGER_UPDATE = "append"
LEDGER_QUERY = "count"


def bare_case_id(loan_id: str) -> str:
    return f"bare-{case_id_for(loan_id)}"


def ledger_id(loan_id: str) -> str:
    return f"bare-ledger-{loan_id}"


@workflow.defn(name=TIMER_WORKFLOW)
class BenchTimer:
    """A case's input, one timer: what a case costs before it does anything."""

    @workflow.run
    async def run(self, inp: CaseInput) -> str:
        await workflow.sleep(timedelta(days=30))
        return inp.loan.loan_id


@workflow.defn(name=LEDGER_WORKFLOW)
class BenchLedger:
    """An update that appends to a list, a query that reads it; nothing else."""

    def __init__(self) -> None:
        self.payments: list[PaymentInput] = []

    @workflow.run
    async def run(self, loan_id: str) -> int:
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=30))
        return len(self.payments)

    @workflow.update(name=LEDGER_UPDATE)
    def append(self, inp: PaymentInput) -> int:
        self.payments.append(inp)
        return len(self.payments)

    @workflow.query(name=LEDGER_QUERY)
    def count(self) -> int:
        return len(self.payments)
