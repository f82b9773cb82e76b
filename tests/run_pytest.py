"""Run pytest and leave the process without the interpreter-exit hazard.

temporalio/sdk-python#300: a process that used a Temporal client or test environment can abort
at interpreter shutdown with ``PyGILState_Release ... finalizing`` (exit 134, about 1 run in 6
here), after every test already passed. The Rust core's threads outlive the interpreter's
finalisation. We sidestep finalisation entirely: run pytest in-process, flush the standard
streams, then leave with ``os._exit`` carrying pytest's own status. Nothing is lost: pytest has
finished, written its report and closed its fixtures before we exit.
"""

from __future__ import annotations

import os
import sys

import pytest


def main() -> None:
    status = int(pytest.main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
