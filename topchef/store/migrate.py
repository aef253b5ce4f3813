"""Create or upgrade a database to the newest schema with Alembic."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from topchef.store.urls import DatabaseTarget

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upgrade(target: DatabaseTarget) -> None:
    """Migrate the database named by ``target`` to the newest revision, logging each step."""
    engine = sa.create_engine(target.sync_url)
    try:
        with engine.begin() as connection:
            before = MigrationContext.configure(connection).get_current_revision()
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

    if before == after:
        log.info("database schema is current at revision %s (%s)", after, target.describe())
    else:
        log.info(
            "database schema migrated from revision %s to %s (%s)",
            before or "none", after, target.describe(),
        )


class SchemaNotCurrent(RuntimeError):
    """The database schema is older (or newer) than this version of TopChef expects."""


def check_current(target: DatabaseTarget) -> None:
    """Raise SchemaNotCurrent unless the database is at the newest revision."""
    database = target.sync_url.database
    if target.kind == "sqlite" and database and not Path(database).exists():
        raise SchemaNotCurrent(
            f"there is no database file at {database}; create it with: "
            "topchef db upgrade --database-url URL"
        )
    engine = sa.create_engine(target.sync_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

    expected = head_revision()
    if current != expected:
        raise SchemaNotCurrent(
            f"the database at {target.describe()} has schema revision {current or 'none'}, "
            f"this TopChef needs {expected}; run: topchef db upgrade --database-url URL"
        )
