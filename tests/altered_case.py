"""A deliberately non-deterministic variant of the case workflow, for the replay tests.

It registers under the real workflow type name, ``CollectionCase``, and differs from it in one
way a careless change might: it waits a minute before it sends a contact. Replaying a recorded
case with it must fail and name the event where code and history part ways (the recorded send).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import case as c
    from workflows.case import CollectionCase
    from workflows.core import effects as fx


@workflow.defn(name="CollectionCase")
class TimerFirstCase(CollectionCase):
    async def _send(self, contact: fx.Contact) -> None:
        await workflow.sleep(timedelta(minutes=1))
        await super()._send(contact)

    @workflow.run
    async def run(self, inp: c.CaseInput) -> c.CaseView:
        return await super().run(inp)
