"""How a contact activity that ended in an error reads to the case: the contract between the
messaging activities' errors and the case's contact log."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

from models import activities as act
from models.case import ContactOutcome


def contact_failure(err: FailureError) -> act.ContactResult:
    """Cancelled while retrying: skipped. The number refused by the provider: rejected with
    its code (the case falls back to the other channel). Anything else, after the retries the
    contact was allowed: failed. A queued activity's error arrives wrapped in an
    ``ActivityError``; a local activity's arrives as it was raised (or as its timeout)."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, CancelledError):
        why = "dropped while waiting to retry the provider: the case moved on"
        return act.ContactResult(outcome=ContactOutcome.SKIPPED, reason=why)
    if isinstance(cause, ApplicationError) and cause.type == act.ERROR_CONTACT_REJECTED:
        code = str(cause.details[0]) if cause.details else None
        return act.ContactResult(
            outcome=ContactOutcome.REJECTED, error_code=code, reason=cause.message
        )
    why = f"provider unavailable; not retried further: {cause or err}"
    return act.ContactResult(outcome=ContactOutcome.FAILED, reason=why)
