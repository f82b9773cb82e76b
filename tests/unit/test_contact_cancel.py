"""A contact the case cancels before its local activity started: the handle is a task that
never ran, so awaiting it raises asyncio's CancelledError. Ours, it is a skipped contact; not
ours (the workflow itself cancelled), it goes on up (chaos seed 15 on the lean history)."""

from __future__ import annotations

import asyncio

import pytest

from models import activities as act
from models.case import ContactOutcome
from workflows.case import CollectionCase


async def _never_started() -> asyncio.Task[act.ContactResult]:
    async def send() -> act.ContactResult:
        return act.ContactResult(outcome=ContactOutcome.SENT, provider_sid="SM1")

    task = asyncio.get_running_loop().create_task(send())
    task.cancel()  # before the loop ever ran it, as a handle cancelled in the task it began
    return task


async def test_our_own_cancel_before_the_start_is_a_skipped_contact() -> None:
    result = await CollectionCase._contact_result(await _never_started(), cancelled=True)
    assert result.outcome is ContactOutcome.SKIPPED
    assert "the case moved on" in result.reason


async def test_a_cancel_that_is_not_ours_goes_on_up() -> None:
    with pytest.raises(asyncio.CancelledError):
        await CollectionCase._contact_result(await _never_started(), cancelled=False)
