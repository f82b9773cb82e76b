"""The ``collectflow`` command. Sub-commands live in their own modules and are wired here."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from models.settings import SettingsRefused

app = typer.Typer(
    name="collectflow",
    help="CollectFlow: durable, compliant collection of overdue loans on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Sub-commands live in their own modules; each registers itself here.
from cli import audit, borrowers, dev, loans, model, run_cmds, simulate, users  # noqa: E402  # they need `app` first

dev.register(app)
run_cmds.register(app)
simulate.register(app)
app.add_typer(audit.app, name="audit")
app.add_typer(borrowers.app, name="borrowers")
app.add_typer(loans.app, name="loans")
app.add_typer(model.app, name="model")
app.add_typer(users.app, name="users")


def main() -> None:
    """Entry point that cannot hit temporalio/sdk-python#300.

    A process that used a Temporal client can abort at interpreter shutdown
    (``PyGILState_Release ... finalizing``, exit 134). Every command runs to completion inside
    ``app``; we then flush the standard streams and leave with ``os._exit`` carrying the
    command's exit status, skipping the interpreter finalisation where the abort happens.
    """
    status = 0
    try:
        app()  # click ends every command with SystemExit carrying its status
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SettingsRefused as exc:  # a production guard: the sentences, not a traceback
        print(f"collectflow: {exc}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
