"""The read model after a workflow task Temporal undid (activities/sync_order.py), on SQLite and
PostgreSQL: the lost task's sync wrote events past where the case really is; the next task's
sync, later in the case's life, replaces them, and the payment it carries is on record."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from activities.case_activities import CaseActivities
from activities.db import Database
from models import activities as act
from models.common import Stage, case_id_for
from tests import factories
from tests import test_activities as base
from tests.test_activities import T0, projection, read_model, run, seed_case

# The activities, sandbox and webhook receiver of test_activities (pytest finds them by name).
hooks = base.hooks
sandbox_url = base.sandbox_url
control = base.control
acts = base.acts


def _at(p: act.CaseProjection, hours: int, length: int) -> act.CaseProjection:
    """The projection as the workflow task at this place in the case's life sends it."""
    return p.model_copy(update={"synced_at": T0 + timedelta(hours=hours), "history_length": length})


async def test_a_later_task_replaces_what_a_lost_task_wrote(
    acts: CaseActivities, database: Database
) -> None:
    inp = factories.case_input()
    await seed_case(database, inp)
    case_id = case_id_for(inp.loan.loan_id)
    await run(acts.sync_case, _at(projection(inp, last_seq=3, payments=0), 1, 12))
    # A task that then failed: its sync ran, Temporal forgot the task, its events stay in SQL.
    lost = projection(inp, last_seq=10, payments=0)
    await run(acts.sync_case, _at(lost, 2, 20))
    # The task run again took another path: three events, the case paid in full.
    real = projection(inp, last_seq=6, stage=Stage.RESOLVED, payments=3)
    real = real.model_copy(
        update={"events": [e.model_copy(update={"summary": "real"}) for e in real.events]}
    )
    await run(acts.sync_case, _at(real, 3, 24))
    rows = await read_model(database, case_id)
    (case,) = rows["cases"]
    assert (case["stage"], case["balance"], case["last_event_seq"]) == (
        Stage.RESOLVED,
        Decimal("0.00"),
        6,
    )
    assert [(e["seq"], e["summary"]) for e in rows["case_events"]] == [
        (1, "event 1"),
        (2, "event 2"),
        (3, "event 3"),
        (4, "real"),
        (5, "real"),
        (6, "real"),
    ]
    assert len(rows["payments"]) == 3
    # The lost task's sync retried late (an older place) changes nothing.
    await run(acts.sync_case, _at(lost, 2, 20))
    assert await read_model(database, case_id) == rows


async def test_two_syncs_of_one_task_go_by_the_event_number(
    acts: CaseActivities, database: Database
) -> None:
    """Within one task the place is the same: the newer event number wins, as before."""
    inp = factories.case_input()
    await seed_case(database, inp)
    case_id = case_id_for(inp.loan.loan_id)
    newer = _at(projection(inp, last_seq=6, stage=Stage.RESOLVED, payments=3), 1, 12)
    await run(acts.sync_case, newer)
    await run(acts.sync_case, _at(projection(inp, last_seq=3, payments=1), 1, 12))
    (case,) = (await read_model(database, case_id))["cases"]
    assert (case["stage"], case["last_event_seq"]) == (Stage.RESOLVED, 6)
