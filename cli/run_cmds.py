"""The pieces of the stack, one command each: ``worker``, ``api``, ``sandbox``, ``db upgrade``.

These are the production shape (one process per piece, configured by ``COLLECTFLOW_*``), and
``collectflow dev`` runs the same commands as its children.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
import uvicorn

from models.observability import configure_logging
from models.settings import Settings, get_settings

db_app = typer.Typer(help="The application database.", no_args_is_help=True)

HostOption = Annotated[str | None, typer.Option(help="Interface to bind (default: settings).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (default: settings).")]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings)
    return settings


def _serve(app: object, host: str, port: int) -> None:
    """uvicorn without its own logging config: its records go through ours (masked)."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]  # an ASGI app; uvicorn's type is a union of protocols
        host=host,
        port=port,
        log_config=None,
        server_header=False,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()


def worker() -> None:
    """Run the case and messaging workers against the configured Temporal and database."""
    settings = _settings()
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    from workers.run import run_worker  # heavy: the workflow sandbox and activities

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop=stop)


def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the HTTP API (uvicorn) against the configured Temporal and database."""
    settings = _settings()
    from api.app import create_app  # imports FastAPI, the Temporal client and the tables

    _serve(create_app(settings), host or settings.api_host, port or settings.api_port)


def sandbox(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the local Twilio-compatible sandbox with the credentials from settings."""
    settings = _settings()
    from sandbox.app import create_sandbox_app
    from sandbox.config import config_from_settings

    app = create_sandbox_app(config_from_settings(settings))
    _serve(app, host or settings.sandbox_host, port or settings.sandbox_port)


def setup_temporal() -> None:
    """Register CollectFlow's search attributes on the namespace (idempotent; production)."""
    settings = _settings()
    try:
        added = asyncio.run(register_search_attributes(settings))
    except SearchAttributeConflict as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    names = ", ".join(added) if added else "none (all present)"
    typer.echo(f"search attributes on {settings.temporal_namespace}: added {names}")
    days = asyncio.run(apply_history_retention(settings))
    typer.echo(f"closed-case history retention on {settings.temporal_namespace}: {days} days")


async def apply_history_retention(settings: Settings) -> int:
    """Keep closed cases' histories for ``history_retention_days`` (conduct rules: 5+ years).

    Export and archive before that horizon (``collectflow audit export``): the namespace
    deletes a closed case's history once its retention has passed.
    """
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.namespace.v1 import NamespaceConfig
    from temporalio.api.workflowservice.v1 import UpdateNamespaceRequest

    from workers.codec import keyring_for
    from workers.temporal import connect

    client = await connect(
        settings.temporal_address, settings.temporal_namespace, keyring=keyring_for(settings)
    )
    days = settings.history_retention_days
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=settings.temporal_namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=days * 86_400)
            ),
        )
    )
    return days


class SearchAttributeConflict(Exception):
    """A search attribute exists with another type; Temporal cannot change it in place."""


async def register_search_attributes(settings: Settings) -> list[str]:
    """Add whichever of the case's search attributes the namespace lacks; returns their names."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    from models.search_attributes import SEARCH_ATTRIBUTES
    from workers.temporal import connect

    namespace = settings.temporal_namespace
    client = await connect(settings.temporal_address, namespace)  # no payloads: no codec
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    existing = dict(listed.custom_attributes)
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in SEARCH_ATTRIBUTES:
        wanted = IndexedValueType.ValueType(int(key.indexed_value_type))
        if key.name not in existing:
            missing[key.name] = wanted
        elif existing[key.name] != wanted:
            have = IndexedValueType.Name(existing[key.name])
            raise SearchAttributeConflict(
                f"search attribute {key.name} exists as {have}, CollectFlow needs "
                f"{IndexedValueType.Name(wanted)}; remove it or use another namespace"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    return sorted(missing)


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (default: COLLECTFLOW_DATABASE_URL).")
    ] = None,
) -> None:
    """Apply every migration up to the latest."""
    settings = _settings()
    from activities.db import upgrade_database

    upgrade_database(database_url or settings.database_url)
    typer.echo("database: migrations applied")


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(api)
    app.command()(sandbox)
    app.command("setup-temporal")(setup_temporal)
    app.add_typer(db_app, name="db")
