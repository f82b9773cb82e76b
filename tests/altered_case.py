"""A deliberately non-deterministic variant of the case workflow, for the replay tests.

It registers under the real workflow type name, ``CollectionCase``, and differs from it in one
way a careless change might: it starts a timer before the case's first command. Replaying a
recorded case with it must fail and name the event where code and history part ways.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import case as c
    from workflows.case import CollectionCase


@workflow.defn(name="CollectionCase")
class TimerFirstCase(CollectionCase):
    @workflow.run
    async def run(self, inp: c.CaseInput) -> c.CaseView:
        await workflow.sleep(timedelta(minutes=1))
        return await super().run(inp)
