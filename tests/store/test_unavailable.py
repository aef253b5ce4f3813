"""Database errors that become 503 and those that do not, from SQLite and psycopg."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from topchef.broker.errors import Unavailable
from topchef.store import open_sql_store, parse_database_url, upgrade
from topchef.store.unavailable import sqlite_primary_code, unavailable_reason

SQLITE_IOERR_WRITE = sqlite3.SQLITE_IOERR | (3 << 8)
"""An extended result code, which keeps the primary code in its low byte."""


def wrapped(error: Exception) -> sa.exc.DBAPIError:
    """Wrap a driver error as SQLAlchemy does when a statement fails."""
    driver_base = sqlite3.Error if isinstance(error, sqlite3.Error) else psycopg.Error
    wrapped_error = sa.exc.DBAPIError.instance("INSERT ...", {}, error, driver_base)
    assert isinstance(wrapped_error, sa.exc.DBAPIError)
    return wrapped_error


def sqlite_error(connection: sqlite3.Connection, statement: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        connection.execute(statement)
    return caught.value


@pytest.fixture
def database_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "test.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x TEXT)")
    yield path


def test_sqlite_full_disk_is_unavailable(database_file: Path) -> None:
    connection = sqlite3.connect(database_file)
    connection.execute("PRAGMA max_page_count = 2")  # the file may not grow: SQLITE_FULL
    error = sqlite_error(connection, "INSERT INTO t VALUES (zeroblob(100000))")

    reason = unavailable_reason(wrapped(error))

    assert sqlite_primary_code(error) == sqlite3.SQLITE_FULL
    assert reason is not None
    assert "disk that holds the database is full" in reason


def test_sqlite_read_only_file_is_unavailable(database_file: Path) -> None:
    connection = sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)
    error = sqlite_error(connection, "INSERT INTO t VALUES ('x')")

    reason = unavailable_reason(wrapped(error))

    assert reason is not None
    assert "read-only" in reason


def test_sqlite_locked_database_is_unavailable(database_file: Path) -> None:
    holder = sqlite3.connect(database_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(database_file, timeout=0, isolation_level=None)
    error = sqlite_error(waiter, "BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")

    reason = unavailable_reason(wrapped(error))

    assert reason is not None
    assert "locked" in reason


def test_sqlite_extended_io_error_is_unavailable() -> None:
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = SQLITE_IOERR_WRITE  # as the sqlite3 module sets it

    reason = unavailable_reason(wrapped(error))

    assert reason is not None
    assert "disk I/O error" in reason


@pytest.mark.parametrize("statement", ["SELECT * FROM missing", "SELEKT 1", "INSERT INTO t"])
def test_sqlite_programming_error_is_not_unavailable(database_file: Path, statement: str) -> None:
    connection = sqlite3.connect(database_file)
    error = sqlite_error(connection, statement)

    assert isinstance(error, sqlite3.OperationalError)  # the class alone cannot tell them apart
    assert unavailable_reason(wrapped(error)) is None


@pytest.mark.parametrize("error", [
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg.errors.DiskFull("could not extend file"),
    psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
])
def test_postgres_outage_is_unavailable(error: psycopg.Error) -> None:
    assert unavailable_reason(wrapped(error)) is not None


@pytest.mark.parametrize("error", [
    psycopg.errors.UndefinedTable('relation "missing" does not exist'),
    psycopg.errors.SyntaxError('syntax error at or near "SELEKT"'),
    psycopg.errors.NotNullViolation('null value in column "name"'),
])
def test_postgres_programming_error_is_not_unavailable(error: psycopg.Error) -> None:
    assert unavailable_reason(wrapped(error)) is None


async def test_store_turns_full_disk_into_503(tmp_path: Path) -> None:
    target = parse_database_url(f"sqlite:///{tmp_path / 'topchef.db'}")
    upgrade(target)
    store = open_sql_store(target)
    try:
        with pytest.raises(Unavailable, match="disk that holds the database is full"):
            async with store.write() as session:
                connection = session._connection
                await connection.exec_driver_sql("PRAGMA max_page_count = 1")
                await connection.exec_driver_sql("CREATE TABLE ballast (x BLOB)")
    finally:
        await store.close()


async def test_store_lets_programming_error_through(tmp_path: Path) -> None:
    target = parse_database_url(f"sqlite:///{tmp_path / 'topchef.db'}")
    upgrade(target)
    store = open_sql_store(target)
    try:
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            async with store.write() as session:
                await session._connection.exec_driver_sql("SELECT * FROM missing")
    finally:
        await store.close()
