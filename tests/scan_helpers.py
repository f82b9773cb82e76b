"""Helpers for the overdue-scan and loan-import tests: CSV rows, a scan worker, clean-up."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.case_activities import CaseActivities
from activities.loan_import import COLUMNS
from models.common import case_id_for
from models.settings import Settings
from workers.runner import workflow_runner
from workflows.scan import OverdueScan


def yesterday() -> date:
    """Past due for the scan, which compares with today's UTC date."""
    return datetime.now(UTC).date() - timedelta(days=1)


def good_row(**changes: Any) -> dict[str, str]:
    """A valid CSV row (all strings) for a new loan and borrower, past due."""
    n = uuid.uuid4().hex[:8]
    row = {
        "loan_id": f"L-{n}",
        "currency": "CNY",
        "amount_overdue": "1530.50",
        "outstanding_balance": "9800.00",
        "due_date": yesterday().isoformat(),
        "borrower_id": f"B-{n}",
        "name": "王芳",
        "phone": "+8613800138000",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
        "region": "hz-west",
        "address": "杭州市西湖区文三路 1 号",
        "consent_sms": "yes",
        "consent_call": "no",
    }
    row.update({k: str(v) for k, v in changes.items()})
    return row


def write_csv(path: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@asynccontextmanager
async def scan_worker(
    client: Client, database_url: str, scan_queue: str, case_queue: str
) -> AsyncIterator[None]:
    """``OverdueScan`` and the real scan activity on ``scan_queue``. The cases it starts go to
    ``case_queue``, where nothing polls: they stay started and do nothing until terminated."""
    settings = Settings(env="development", database_url=database_url, task_queue=case_queue)
    activities = await CaseActivities.from_settings(settings, temporal_client=client)
    worker = Worker(
        client,
        task_queue=scan_queue,
        workflows=[OverdueScan],
        activities=[activities.scan_overdue_loans],
        workflow_runner=workflow_runner(),
    )
    try:
        async with worker:
            yield
    finally:
        await activities.aclose()


async def terminate_cases(client: Client, loan_ids: Iterable[str]) -> None:
    for loan_id in loan_ids:
        with contextlib.suppress(RPCError):  # never started, or already over
            await client.get_workflow_handle(case_id_for(loan_id)).terminate("test over")
