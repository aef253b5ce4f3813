"""The ``topchef`` command: ``topchef serve`` runs the server, ``topchef db upgrade`` migrates.

The client commands (``services``, ``jobs``, ``validate`` and ``worker``) live
in ``topchef.cli_client``. Every option can also be set by the environment
variable shown in ``--help``. Data goes to standard output, messages and logs
to standard error, and ``TopChefGroup`` turns every client error into one
message and a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import click
import sqlalchemy.exc
import uvicorn

import topchef
from topchef import cli_client, cli_tokens
from topchef.client import SchemaViolationError, TopChefError
from topchef.config import (
    DATABASE_URL_VARIABLES,
    DEFAULT_DATABASE_URL,
    DEFAULT_EVENT_HEARTBEAT_SECONDS,
    DEFAULT_EVENT_WINDOW_EVENTS,
    DEFAULT_EVENT_WINDOW_SECONDS,
    DEFAULT_HOST,
    DEFAULT_MAINTAINER_NAME,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_POOL_SIZE,
    DEFAULT_PORT,
    DEFAULT_PURGE_INTERVAL_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    Settings,
    cors_origins_from_text,
    settings_to_environment,
)
from topchef.logs import LOG_FORMATS, logging_config, make_formatter
from topchef.store import (
    DatabaseTarget,
    SchemaNotCurrent,
    UnsupportedDatabaseURL,
    check_current,
    parse_database_url,
    upgrade,
)

log = logging.getLogger("topchef.cli")

LOG_LEVELS = ("debug", "info", "warning", "error")
GRACEFUL_SHUTDOWN_SECONDS = 5
"""How long a stopping server lets open requests (long polls among them) finish."""

database_url_option = click.option(
    "--database-url",
    envvar=list(DATABASE_URL_VARIABLES),
    show_envvar=True,
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="Where jobs are stored: sqlite:///PATH (relative to the working directory) "
    "or postgresql://USER@HOST/DATABASE.",
)


def _configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Alembic logs every context it opens, and our own migration lines report what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)


class TopChefGroup(click.Group):
    """The top-level group: its handler prints the cause of a client error and exits with 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from topchef.worker import WorkerSetupError

        try:
            return super().invoke(ctx)
        except SchemaViolationError as exc:
            lines = "\n".join(f"  {violation}" for violation in exc.violations)
            raise click.ClickException(f"the server rejected the request:\n{lines}") from exc
        except (TopChefError, WorkerSetupError) as exc:
            raise click.ClickException(str(exc)) from exc
        except ValueError as exc:  # a schema file that cannot be read, an invalid argument
            raise click.ClickException(str(exc)) from exc


@click.group(cls=TopChefGroup)
@click.version_option(topchef.__version__, prog_name="topchef")
def main() -> None:
    """TopChef: a job broker that speaks HTTP."""


main.add_command(cli_client.services)
main.add_command(cli_client.jobs)
main.add_command(cli_client.validate)
main.add_command(cli_client.worker_command)
main.add_command(cli_tokens.tokens)


@main.command()
@click.option("--host", envvar="TOPCHEF_HOST", show_envvar=True, default=DEFAULT_HOST,
              show_default=True, help="Address to listen on.")
@click.option("--port", envvar="TOPCHEF_PORT", show_envvar=True, default=DEFAULT_PORT,
              show_default=True, type=click.IntRange(0, 65535), help="TCP port to listen on.")
@database_url_option
@click.option("--workers", envvar="TOPCHEF_WORKERS", show_envvar=True, default=1,
              show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port; more than one needs PostgreSQL.")
@click.option("--migrate/--no-migrate", envvar="TOPCHEF_MIGRATE", show_envvar=True,
              default=True, show_default=True,
              help="Create or upgrade the database schema before serving.")
@click.option("--pool-size", envvar="TOPCHEF_POOL_SIZE", show_envvar=True,
              default=DEFAULT_POOL_SIZE, show_default=True, type=click.IntRange(1, 1000),
              help="Database connections per server process (PostgreSQL).")
@click.option("--statement-timeout-ms", envvar="TOPCHEF_STATEMENT_TIMEOUT_MS",
              show_envvar=True, default=DEFAULT_STATEMENT_TIMEOUT_MS, show_default=True,
              type=click.IntRange(0, None),
              help="PostgreSQL cancels a statement that runs longer, in milliseconds; 0 is off.")
@click.option("--purge-interval-seconds", envvar="TOPCHEF_PURGE_INTERVAL_SECONDS",
              show_envvar=True, default=DEFAULT_PURGE_INTERVAL_SECONDS, show_default=True,
              type=click.FloatRange(min=0.1),
              help="How often finished jobs past their service's retention_seconds are deleted.")
@click.option("--max-body-bytes", envvar="TOPCHEF_MAX_BODY_BYTES", show_envvar=True,
              default=DEFAULT_MAX_BODY_BYTES, show_default=True, type=click.IntRange(1, None),
              help="Largest request body accepted, in bytes; a larger one gets 413.")
@click.option("--log-level", envvar="TOPCHEF_LOG_LEVEL", show_envvar=True, default="info",
              show_default=True, type=click.Choice(LOG_LEVELS))
@click.option("--log-format", envvar="TOPCHEF_LOG_FORMAT", show_envvar=True, default="text",
              show_default=True, type=click.Choice(LOG_FORMATS),
              help="Log format: text lines, or one JSON object per line (time, level, "
              "logger, message and fields) for every server log line.")
@click.option("--maintainer-name", envvar="TOPCHEF_MAINTAINER_NAME", show_envvar=True,
              default=DEFAULT_MAINTAINER_NAME, show_default=True,
              help="Who runs this server, as GET / reports it.")
@click.option("--maintainer-email", envvar="TOPCHEF_MAINTAINER_EMAIL", show_envvar=True,
              default="", help="Where users of this server write to, as GET / reports it.")
@click.option("--access-log/--no-access-log", envvar="TOPCHEF_ACCESS_LOG", show_envvar=True,
              default=True, show_default=True,
              help="Log one line per HTTP request: method, path, status, duration and ids.")
@click.option("--tokens-file", envvar="TOPCHEF_TOKENS_FILE", show_envvar=True, default=None,
              type=click.Path(dir_okay=False),
              help="Accept the bearer tokens listed in this file (lines ROLE NAME SHA256HEX, "
              "see 'topchef tokens add'); TOPCHEF_TOKENS adds ROLE:NAME:TOKEN entries.")
@click.option("--allow-unauthenticated", envvar="TOPCHEF_ALLOW_UNAUTHENTICATED",
              show_envvar=True, is_flag=True,
              help="Listen on a non-loopback address without tokens, open to anyone who "
              "reaches it (for the classic clients, which cannot send tokens).")
@click.option("--cors-origin", "cors_origins", envvar="TOPCHEF_CORS_ORIGINS", show_envvar=True,
              multiple=True, help="Let web pages from this origin (such as "
              "https://dash.example.org) call the API; repeat for more origins, or give a "
              "comma-separated list in the variable. Off by default.")
@click.option("--event-heartbeat-seconds", envvar="TOPCHEF_EVENT_HEARTBEAT_SECONDS",
              show_envvar=True, default=DEFAULT_EVENT_HEARTBEAT_SECONDS, show_default=True,
              type=click.FloatRange(min=0.1),
              help="GET /events sends a keep-alive comment after this many quiet seconds.")
@click.option("--event-window-events", envvar="TOPCHEF_EVENT_WINDOW_EVENTS", show_envvar=True,
              default=DEFAULT_EVENT_WINDOW_EVENTS, show_default=True,
              type=click.IntRange(1, None),
              help="How many of the newest events are kept for resuming GET /events.")
@click.option("--event-window-seconds", envvar="TOPCHEF_EVENT_WINDOW_SECONDS",
              show_envvar=True, default=DEFAULT_EVENT_WINDOW_SECONDS, show_default=True,
              type=click.FloatRange(min=1),
              help="Events older than this many seconds are deleted.")
@click.option("--webhook-secret", envvar="TOPCHEF_WEBHOOK_SECRET", show_envvar=True,
              default="", help="Shared secret that signs webhook deliveries (HMAC-SHA256).")
@click.option("--webhook-allow-host", "webhook_allow_hosts", multiple=True,
              envvar="TOPCHEF_WEBHOOK_ALLOW_HOSTS", show_envvar=True, metavar="HOST[:PORT]",
              help="A host a service's callback_url may name; repeat for more, or give a "
                   "comma-separated list in the variable. None is allowed by default.")
def serve(host: str, port: int, database_url: str, workers: int, migrate: bool,
          pool_size: int, statement_timeout_ms: int, purge_interval_seconds: float,
          max_body_bytes: int, log_level: str, log_format: str, maintainer_name: str,
          maintainer_email: str, access_log: bool, tokens_file: str | None,
          allow_unauthenticated: bool, cors_origins: tuple[str, ...],
          event_heartbeat_seconds: float,
          event_window_events: int, event_window_seconds: float, webhook_secret: str,
          webhook_allow_hosts: tuple[str, ...]) -> None:
    """Run the TopChef server until SIGINT or SIGTERM."""
    _configure_logging(log_level, log_format)
    tokens = cli_tokens.server_tokens(tokens_file)
    cli_tokens.check_binding(host, tokens=tokens, allow_unauthenticated=allow_unauthenticated)
    target = _database_target(database_url)
    _check_port_free(host, port)
    if workers > 1 and target.kind != "postgresql":
        raise click.BadParameter(
            "several server processes need a PostgreSQL database; SQLite serves one process",
            param_hint="--workers",
        )
    with _database_errors(target):
        if migrate:
            upgrade(target)
        else:
            check_current(target)

    settings = Settings(
        database_url=database_url,
        migrate_on_start=False,
        maintainer_name=maintainer_name,
        maintainer_email=maintainer_email,
        pool_size=pool_size,
        statement_timeout_ms=statement_timeout_ms,
        purge_interval_seconds=purge_interval_seconds,
        max_body_bytes=max_body_bytes,
        drain_on_stop_signals=True,
        tokens=tokens,
        cors_origins=cors_origins_from_text(",".join(cors_origins)),
        event_heartbeat_seconds=event_heartbeat_seconds,
        event_window_events=event_window_events,
        event_window_seconds=event_window_seconds,
        webhook_secret=webhook_secret,
        webhook_allow_hosts=webhook_allow_hosts,
        log_format=log_format,
        access_log=access_log,
    )
    if webhook_allow_hosts and not webhook_secret:
        raise click.BadParameter(
            "allowing webhook hosts needs a secret to sign deliveries with; set "
            "--webhook-secret or TOPCHEF_WEBHOOK_SECRET", param_hint="--webhook-allow-host")
    log.info("TopChef %s starting on http://%s:%d with store %s (server processes: %d)",
             topchef.__version__, host, port, target.describe(), workers)
    _run_uvicorn(settings, host=host, port=port, workers=workers, log_level=log_level)


def _check_port_free(host: str, port: int) -> None:
    """Fail with a hint before touching the database if ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror}; choose another port with "
                "--port or TOPCHEF_PORT, or another address with --host"
            ) from exc


def _run_uvicorn(settings: Settings, *, host: str, port: int, workers: int,
                 log_level: str) -> None:
    """Serve until SIGINT or SIGTERM, when uvicorn lets open requests finish and stops.

    uvicorn's access log stays off: the app logs each request itself (--access-log).
    """
    options: dict[str, Any] = {
        "host": host, "port": port,
        "log_config": logging_config(log_level, settings.log_format),
        "log_level": log_level, "access_log": False, "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    if workers == 1:
        from topchef.api import create_app

        uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()
        return

    # Worker processes import the app by name, so they read the settings from
    # the environment, as ``uvicorn --factory`` deployments do.
    os.environ.update(settings_to_environment(settings))
    uvicorn.run("topchef.api:create_app_from_environment", factory=True, workers=workers,
                **options)


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@database_url_option
def db_upgrade(database_url: str) -> None:
    """Create the database schema or migrate it to the newest revision."""
    _configure_logging("info")
    target = _database_target(database_url)
    with _database_errors(target):
        upgrade(target)


@contextlib.contextmanager
def _database_errors(target: DatabaseTarget) -> Iterator[None]:
    """Turn a database that cannot be opened or is out of date into one clear message."""
    try:
        yield
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlalchemy.exc.DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise click.ClickException(
            f"cannot open the database at {target.describe()}: {reason}"
        ) from exc


def _database_target(database_url: str) -> DatabaseTarget:
    try:
        return parse_database_url(database_url)
    except UnsupportedDatabaseURL as exc:
        raise click.BadParameter(str(exc), param_hint="--database-url") from exc
