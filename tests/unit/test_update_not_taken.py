"""An update Temporal rejected because no workflow task took it reads as "busy", not a refusal."""

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import not_taken_by_worker, temporal_error

# The server's words, as seen from a 20-note burst (tests/test_hostile.py) on this machine.
REJECTED = (
    "Workflow Update is rejected because it wasn't processed by worker. "
    "Probably, Workflow Update is not supported by the worker."
)


def test_the_update_failure_form_is_recognised() -> None:
    assert not_taken_by_worker(WorkflowUpdateFailedError(ApplicationError(REJECTED)))


def test_the_rpc_form_is_a_503_with_retry_after() -> None:
    err = RPCError(REJECTED, RPCStatusCode.UNKNOWN, b"")
    assert not_taken_by_worker(err)
    answer = temporal_error(err)
    assert (answer.status_code, answer.headers) == (503, {"Retry-After": "2"})


def test_a_validator_refusal_is_not_mistaken_for_it() -> None:
    refusal = WorkflowUpdateFailedError(ApplicationError("the case is closed: paid in full"))
    assert not not_taken_by_worker(refusal)
