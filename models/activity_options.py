"""How long the workflows let their activities run and how they retry them: operational
settings, kept beside the activities' contracts (``models.activities``), not in the shells."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Sends back off by the SDK's default coefficient (2) to a two-minute ceiling.
CONTACT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2)
)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)

# A big book takes a while (about a hundred starts a second); the heartbeat after every batch
# tells a stuck worker from a slow one, and a retry resumes after the last reported batch.
SCAN_START_TO_CLOSE = timedelta(hours=6)
SCAN_HEARTBEAT = timedelta(minutes=5)
# The whole run, retries included, ends well before the next day's run is due.
SCAN_SCHEDULE_TO_CLOSE = timedelta(hours=20)
SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
DIGEST_START_TO_CLOSE = timedelta(minutes=5)
