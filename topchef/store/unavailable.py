"""Database errors that mean the database is unavailable now, and the reason given for each.

A request that meets such an error gets 503 with the reason, and may succeed
when retried once the fault is gone: a dropped connection, a full disk, a
read-only file or a lock held too long. Any other database error is a bug or
a broken database and stays an unexpected error (500), so a programming
error such as a missing table never looks like a passing outage.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

READ_ONLY_SQL_TRANSACTION = "25006"
"""PostgreSQL's SQLSTATE for a write in a read-only transaction, as on a hot standby."""

_PRIMARY_CODE_MASK = 0xFF
"""SQLite extended result codes keep the primary code in their low byte."""

SQLITE_REASONS = {
    sqlite3.SQLITE_FULL: "the disk that holds the database is full, so writes fail until "
                         "space is freed",
    sqlite3.SQLITE_READONLY: "the database file is read-only to the server, so writes fail "
                             "until it is writable",
    sqlite3.SQLITE_IOERR: "reading or writing the database file failed with a disk I/O error",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_BUSY: "the database is locked by another writer",
    sqlite3.SQLITE_LOCKED: "the database is locked by another writer",
    sqlite3.SQLITE_PROTOCOL: "the database lock could not be taken",
    sqlite3.SQLITE_NOMEM: "the database ran out of memory",
}
"""The SQLite primary result codes that a retry may outlive, with what they mean."""

SQLITE_REOPEN_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)
"""Codes after which a SQLite connection is replaced by a new one.

A connection that SQLite opened read-only stays read-only after the file
becomes writable again, and one that met an I/O error may keep stale state.
Only a connection opened after the fault is gone can write.
"""


def sqlite_primary_code(error: BaseException | None) -> int | None:
    """Return the SQLite primary result code of a driver error, or None for other errors."""
    if not isinstance(error, sqlite3.Error):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & _PRIMARY_CODE_MASK


def unavailable_reason(error: sa.exc.DBAPIError) -> str | None:
    """Return why the database cannot serve the request now, or None if retrying cannot help.

    On SQLite only the result codes in ``SQLITE_REASONS`` count: SQLite also
    reports a syntax error or a missing table as an OperationalError. On
    PostgreSQL psycopg's OperationalError (a lost connection, a shutdown, a
    full disk, a statement timeout) and a write on a read-only server count.
    """
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = sqlite_primary_code(original)
        return None if code is None else SQLITE_REASONS.get(code)

    if getattr(original, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
        return "the database server accepts no writes (read-only transaction or hot standby)"
    if error.connection_invalidated:
        return "the connection to the database was lost"
    if isinstance(error, sa.exc.OperationalError):
        return "the database server could not be reached or did not finish the statement"
    return None
