"""An applied action is never answered as a failure because the state read after it failed.

The hostile burst (tests/test_hostile.py) saw it on a fresh clone: a note was applied, the
query after it met "buffered query cleared, please retry" (the server was redoing the case's
workflow task), and the API answered 503, which invites a retry that would add the note twice.
The handle here stands in for a workflow handle's ``query`` only, raising the SDK's own error
types with the server's words.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.case_ops import _view_after_action
from api.errors import ApiError
from models.common import Role

CLEARED = RPCError("buffered query cleared, please retry", RPCStatusCode.UNAVAILABLE, b"")


class Handle:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.asked = 0

    async def query(self, *_args: Any, **_kwargs: Any) -> str:
        self.asked += 1
        if self.failures:
            raise self.failures.pop(0)
        return "the view"


async def test_a_cleared_query_is_asked_again() -> None:
    handle = Handle([CLEARED, CLEARED])
    view: object = await _view_after_action(handle, "case-L-1", Role.OPERATOR)  # type: ignore[arg-type]
    assert view == "the view"
    assert handle.asked == 3


async def test_a_state_that_stays_unreadable_is_a_202_saying_the_action_is_in() -> None:
    handle = Handle([CLEARED] * 10)
    with pytest.raises(ApiError) as answer:
        await _view_after_action(handle, "case-L-1", Role.OPERATOR)  # type: ignore[arg-type]
    assert answer.value.status_code == 202
    assert "was applied" in str(answer.value.detail)
    assert "do not send the action again" in str(answer.value.detail)
    assert handle.asked == 5


async def test_a_permanent_query_error_is_not_retried() -> None:
    handle = Handle([RPCError("bad query", RPCStatusCode.INVALID_ARGUMENT, b"")])
    with pytest.raises(ApiError) as answer:
        await _view_after_action(handle, "case-L-1", Role.OPERATOR)  # type: ignore[arg-type]
    assert (answer.value.status_code, handle.asked) == (202, 1)
