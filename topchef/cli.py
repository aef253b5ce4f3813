"""The ``topchef`` command: ``topchef serve`` runs the server, ``topchef db upgrade`` migrates.

Every option can also be set by the environment variable shown in ``--help``.
Data goes to standard output, messages and logs to standard error.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import click
import sqlalchemy.exc
import uvicorn

import topchef
from topchef.config import (
    DATABASE_URL_VARIABLES,
    DEFAULT_DATABASE_URL,
    DEFAULT_HOST,
    DEFAULT_MAINTAINER_NAME,
    DEFAULT_PORT,
    Settings,
)
from topchef.store import (
    DatabaseTarget,
    SchemaNotCurrent,
    UnsupportedDatabaseURL,
    check_current,
    parse_database_url,
    upgrade,
)

log = logging.getLogger("topchef.cli")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
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


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # Alembic announces every context it opens; our own migration lines say what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group()
@click.version_option(topchef.__version__, prog_name="topchef")
def main() -> None:
    """TopChef: a job broker that speaks HTTP."""


@main.command()
@click.option("--host", envvar="TOPCHEF_HOST", show_envvar=True, default=DEFAULT_HOST,
              show_default=True, help="Address to listen on.")
@click.option("--port", envvar="TOPCHEF_PORT", show_envvar=True, default=DEFAULT_PORT,
              show_default=True, type=click.IntRange(0, 65535), help="TCP port to listen on.")
@database_url_option
@click.option("--migrate/--no-migrate", envvar="TOPCHEF_MIGRATE", show_envvar=True,
              default=True, show_default=True,
              help="Create or upgrade the database schema before serving.")
@click.option("--log-level", envvar="TOPCHEF_LOG_LEVEL", show_envvar=True, default="info",
              show_default=True, type=click.Choice(LOG_LEVELS))
@click.option("--maintainer-name", envvar="TOPCHEF_MAINTAINER_NAME", show_envvar=True,
              default=DEFAULT_MAINTAINER_NAME, show_default=True,
              help="Who runs this server, as GET / reports it.")
@click.option("--maintainer-email", envvar="TOPCHEF_MAINTAINER_EMAIL", show_envvar=True,
              default="", help="Where users of this server write to, as GET / reports it.")
@click.option("--access-log/--no-access-log", envvar="TOPCHEF_ACCESS_LOG", show_envvar=True,
              default=True, show_default=True, help="Log one line per HTTP request.")
def serve(host: str, port: int, database_url: str, migrate: bool, log_level: str,
          maintainer_name: str, maintainer_email: str, access_log: bool) -> None:
    """Run the TopChef server until SIGINT or SIGTERM."""
    _configure_logging(log_level)
    target = _database_target(database_url)
    with _database_errors(target):
        if migrate:
            upgrade(target)
        else:
            check_current(target)

    from topchef.api import create_app

    settings = Settings(
        database_url=database_url,
        migrate_on_start=False,
        maintainer_name=maintainer_name,
        maintainer_email=maintainer_email,
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=log_level,
        access_log=access_log, server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    log.info("TopChef %s starting on http://%s:%d with store %s",
             topchef.__version__, host, port, target.describe())
    # uvicorn stops gracefully on SIGINT and SIGTERM: it finishes open requests,
    # then the lifespan closes the store.
    uvicorn.Server(config).run()


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
