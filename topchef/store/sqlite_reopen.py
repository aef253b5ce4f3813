"""Reopening every connection to a SQLite file after a file error, so writes recover.

SQLite opens a file it cannot write read-only, and one process shares the
WAL index of a file among all its connections: while any connection that
opened the file read-only stays open, new connections cannot write either.
So once the file is writable again (a read-only mount made writable, a
permission restored), the server recovers only if it closes every old
connection, readers included.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from topchef.store.unavailable import SQLITE_REOPEN_CODES, sqlite_primary_code

_GENERATION = "topchef_file_generation"


class ReopenAfterFileErrors:
    """Replace every pooled connection of the watched engines after a file error.

    Each file error (``SQLITE_REOPEN_CODES``) on any watched engine starts a new
    generation. A connection from an older generation is closed when it goes
    back to its pool and when it is next checked out, and the pool opens a new
    one in its place. Closing on return matters: a new connection opened while
    an old read-only one is still open would be read-only too.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._engines: list[sa.Engine] = []

    def watch(self, engine: AsyncEngine) -> None:
        """Count the file errors of ``engine`` and replace its connections after one."""
        target = engine.sync_engine
        self._engines.append(target)
        event.listen(target, "handle_error", self._on_error)
        event.listen(target, "connect", self._on_connect)
        event.listen(target, "checkout", self._on_checkout)
        event.listen(target, "checkin", self._on_checkin)

    def _on_error(self, context: sa.engine.ExceptionContext) -> None:
        if sqlite_primary_code(context.original_exception) not in SQLITE_REOPEN_CODES:
            return

        self.generation += 1
        # Idle connections would otherwise stay open until their next checkout,
        # and a reader pool that nothing uses for a while (submissions served
        # from cached schemas touch only the writer) would keep the file
        # read-only for every new connection.
        for engine in self._engines:
            engine.pool.dispose()

    def _on_connect(self, _dbapi_connection: Any, record: Any) -> None:
        record.info[_GENERATION] = self.generation

    def _is_outdated(self, record: Any) -> bool:
        generation: int = record.info.get(_GENERATION, self.generation)
        return generation < self.generation

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and self._is_outdated(record):
            record.invalidate()

    def _on_checkout(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if self._is_outdated(record):
            # The documented way to make the pool replace a connection on checkout.
            raise sa.exc.DisconnectionError("connection opened before a SQLite file error")
