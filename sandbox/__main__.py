"""`python -m sandbox [--host H] [--port P]`: the sandbox with the credentials from settings."""

from __future__ import annotations

import argparse

from models.settings import get_settings
from sandbox.config import config_from_settings
from sandbox.server import run_sandbox


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default=settings.sandbox_host)
    parser.add_argument("--port", type=int, default=settings.sandbox_port)
    args = parser.parse_args(argv)
    run_sandbox(args.host, args.port, config_from_settings(settings), settings.log_level)


if __name__ == "__main__":
    main()
