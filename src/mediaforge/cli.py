"""The ``mediaforge`` command: serve, worker, migrate, doctor."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer

from mediaforge.config import get_settings
from mediaforge.logging import configure_logging

__all__ = ["main"]

cli = typer.Typer(
    help="mediaforge: self-hostable AI media processing.", no_args_is_help=True, add_completion=False
)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int | None, typer.Option(help="Embedded work processes (0 = API only).")] = None,
) -> None:
    """Run the API with embedded workers (SQLite and local blobs under ./var by default)."""
    import uvicorn

    from mediaforge.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    uvicorn.run(
        create_app(settings, workers=workers),
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.cancel_grace_seconds) + 5,
    )


@cli.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Work processes (default: CPU count).")] = None,
    name: Annotated[str | None, typer.Option(help="Worker id (default: host-pid-random).")] = None,
) -> None:
    """Run a standalone worker (and webhook dispatcher) against the configured database; SIGTERM drains."""
    from mediaforge.db.migrate import migrate
    from mediaforge.engine.worker import Worker
    from mediaforge.events.bus import announcing
    from mediaforge.runtime import Runtime
    from mediaforge.webhooks.dispatcher import Dispatcher

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    migrate(settings.database_url)
    runtime = Runtime.from_settings(settings)
    w = Worker(runtime, concurrency=concurrency, name=name)
    dispatcher = Dispatcher(runtime)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with announcing(settings):
        w.start()
        dispatcher.start()
        done.wait()
        w.stop()
        dispatcher.stop()
    runtime.close()


@cli.command("migrate")
def migrate_cmd() -> None:
    """Apply database migrations."""
    from mediaforge.db.migrate import migrate

    settings = get_settings()
    migrate(settings.database_url)
    typer.echo(f"migrated {settings.public()['database_url']}")


@cli.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Print the effective config (secrets masked), database, storage, workers and processors."""
    from mediaforge.diagnostics import diagnose

    report = diagnose(get_settings())
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    _print_report(report)
    raise typer.Exit(0 if report["ok"] else 1)


def _print_report(report: dict[str, Any]) -> None:
    typer.echo("config:")
    for key, value in report["config"].items():
        typer.echo(f"  {key} = {value}")
    for section in ("database", "storage", "workers"):
        typer.echo(f"{section}: {report[section]}")
    typer.echo("processors:")
    for p in report["processors"]:
        line = f"  {'ok ' if p['available'] else '-- '} {p['name']}"
        if not p["available"]:
            line += f"  ({p['reason']}; install: {p['install_hint']})"
        typer.echo(line)


def main() -> None:
    cli()
