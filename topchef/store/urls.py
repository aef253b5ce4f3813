"""Database URLs: which store a URL selects and the driver each side uses."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL


class UnsupportedDatabaseURL(ValueError):
    """The URL names a database TopChef has no store for, or cannot be parsed."""


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    kind: str
    """Either "sqlite" or "postgresql"."""
    async_url: URL
    sync_url: URL
    """The same database through a blocking driver, for Alembic migrations."""

    def describe(self) -> str:
        """Return the URL with any password hidden, for logs."""
        return self.sync_url.render_as_string(hide_password=True)


def parse_database_url(text: str) -> DatabaseTarget:
    """Map a URL such as ``sqlite:///topchef.db`` or ``postgresql://host/db`` to drivers.

    SQLite uses aiosqlite (async) and sqlite3 (sync); PostgreSQL uses psycopg 3
    for both.
    """
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise UnsupportedDatabaseURL(f"cannot parse database URL {text!r}: {exc}") from exc

    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise UnsupportedDatabaseURL(
                f"database URL {text!r} names an in-memory SQLite database, which is lost "
                "when the server stops; give a file, e.g. sqlite:///topchef.db"
            )
        return DatabaseTarget(
            "sqlite", url.set(drivername="sqlite+aiosqlite"), url.set(drivername="sqlite")
        )

    if backend in ("postgresql", "postgres"):
        psycopg_url = url.set(drivername="postgresql+psycopg")
        return DatabaseTarget("postgresql", psycopg_url, psycopg_url)

    raise UnsupportedDatabaseURL(
        f"database URL {text!r} uses {backend!r}; TopChef supports sqlite:///PATH "
        "and postgresql://USER@HOST/DATABASE"
    )
