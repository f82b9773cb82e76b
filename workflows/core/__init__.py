"""The pure case core: state, actions, stages and policy. No temporalio, no clock, no I/O.

The shell's entry points are in ``entry.py``; ``Case`` (case.py and the mixins it is built
from: base, money, pauses, contacts, commitments) is the only writer of ``CaseState``."""
