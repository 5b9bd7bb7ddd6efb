"""The ``mediaforge`` command: serve, worker, migrate, doctor, accounts, keys."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mediaforge.config import get_settings
from mediaforge.logging import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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
    try:
        settings.check_bind(host)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
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


# --- accounts and keys ---------------------------------------------------------------------------
accounts_cli = typer.Typer(help="Manage accounts.", no_args_is_help=True)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(accounts_cli, name="accounts")
cli.add_typer(keys_cli, name="keys")


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    """One committed transaction on the configured (migrated) database; errors exit 1 with a message."""
    from mediaforge.db.engine import Database
    from mediaforge.db.migrate import migrate
    from mediaforge.errors import MediaforgeError

    settings = get_settings()
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            yield session
    except MediaforgeError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()


@accounts_cli.command("create")
def accounts_create(
    email: str,
    password: Annotated[
        str | None, typer.Option(envvar="MEDIAFORGE_NEW_PASSWORD", help="Login password (none = keys only).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the account the admin role.")] = False,
    tier: Annotated[str, typer.Option(help="Credit tier.")] = "free",
) -> None:
    """Create an account; prints its id."""
    from mediaforge.identity import service as identity

    with _unit_of_work() as session:
        account = identity.create_account(
            session, email, password, role="admin" if admin else "user", tier=tier
        )
        typer.echo(account.id)


@keys_cli.command("create")
def keys_create(
    owner: Annotated[str, typer.Option("--owner", help="Email of the account the key acts for.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes.")] = "*",
) -> None:
    """Create an API key; the secret is printed alone on the last line (it is never shown again)."""
    from mediaforge.identity import service as identity
    from mediaforge.identity.principal import check_scopes

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        check_scopes(wanted)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with _unit_of_work() as session:
        account = identity.find_account(session, email=owner)
        issued = identity.issue(session, account, "api_key", name=name, scopes=wanted)
        typer.echo(f"key {issued.credential.id} ({issued.credential.prefix}) for {owner}, scopes {wanted}")
        typer.echo(issued.token)


@keys_cli.command("list")
def keys_list(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this account's keys.")] = None,
) -> None:
    """List API keys (never their secrets)."""
    from mediaforge.identity import service as identity

    with _unit_of_work() as session:
        account_id = identity.find_account(session, email=owner).id if owner else None
        typer.echo("id\tprefix\tname\taccount\tscopes\tcreated\tlast_used\trevoked")
        for key in identity.list_credentials(session, account_id):
            fields = (key.id, key.prefix, key.name, key.account_id, ",".join(key.scopes))
            times = (key.created_at, key.last_used_at, key.revoked_at)
            typer.echo(
                "\t".join([*map(str, fields), *(f"{t:%Y-%m-%dT%H:%M:%SZ}" if t else "-" for t in times)])
            )


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by id; it stops working at once."""
    from mediaforge.identity import service as identity

    with _unit_of_work() as session:
        identity.revoke(identity.get_credential(session, key_id, None))
        typer.echo(f"revoked {key_id}")


def main() -> None:
    cli()
