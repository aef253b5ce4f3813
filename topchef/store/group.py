"""Group commit: concurrent SQLite write sessions share one COMMIT, so one fsync.

SQLite has one writer connection. While writers queue for it, the connection
keeps one transaction (a group) open, and each write session runs inside a
``SAVEPOINT`` of its own, one session at a time as before. A session that
fails rolls back to its savepoint, which undoes its own changes and leaves
those of the other sessions alone. A session that succeeds releases its
savepoint. Either way it then waits for the group's outcome. It returns only
after the COMMIT that contains its change, so a success still means that the
change is on disk.

The group commits as soon as no live writer is waiting for the connection (an
idle server adds no latency), or once it contains ``max_sessions`` sessions or
is ``max_delay_seconds`` old. If the COMMIT fails, or a savepoint could not be
ended, the whole group rolls back, and every session of it that still waits
for the outcome raises Unavailable.

The connection passes from owner to owner, first in first out. The owner is
a session between its start and the end of its savepoint, or the task that
commits a group. Handing over is synchronous, so a cancelled waiter can never
leave a group open with no task to commit it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from topchef.broker.errors import Unavailable
from topchef.store.unavailable import unavailable_reason

log = logging.getLogger(__name__)

GROUP_COMMIT_MAX_SESSIONS = 64
"""A group commits once it contains this many write sessions, even with writers waiting."""

GROUP_COMMIT_MAX_DELAY_SECONDS = 0.02
"""A group commits once it is this old, even with writers waiting, which bounds
how long the first session in a busy group waits for its commit. The age is
wall-clock time, so it includes the other requests that the event loop serves
between a session's statements. In one measurement (wrk with 16 connections
submitting jobs, 2 cores shared with other work), 5 ms cut groups to 3 or 4
sessions, and 50 ms let them grow to 13 to 15."""


@dataclass
class GroupCommitStats:
    """Counts since the store opened, for tests and diagnostics."""

    commits: int = 0
    """Groups committed."""
    sessions: int = 0
    """Write sessions in the committed groups, the failed sessions included."""
    failed_groups: int = 0
    """Groups rolled back because their COMMIT or a savepoint failed."""


@dataclass
class _Group:
    connection: AsyncConnection
    transaction: AsyncTransaction
    started: float
    outcome: asyncio.Future[None]
    sessions: int = 0
    broken: Exception | None = None
    """The error that makes this group roll back instead of committing."""


@dataclass
class _Handover:
    """First-in, first-out turns at the writer connection."""

    owned: bool = False
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)

    def take_or_queue(self) -> asyncio.Future[None] | None:
        """Take the connection if it is free; otherwise return the turn to wait for."""
        if not self.owned and not self.waiters:
            self.owned = True
            return None
        turn = asyncio.get_running_loop().create_future()
        self.waiters.append(turn)
        return turn

    def has_waiters(self) -> bool:
        return any(not turn.done() for turn in self.waiters)

    def pass_on(self) -> None:
        """Give the connection to the oldest live waiter, or leave it free."""
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.owned = False


class GroupCommitWriter:
    """Runs write sessions on one SQLite connection and commits them in groups."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_sessions: int = GROUP_COMMIT_MAX_SESSIONS,
        max_delay_seconds: float = GROUP_COMMIT_MAX_DELAY_SECONDS,
        description: str = "sqlite",
    ) -> None:
        self.stats = GroupCommitStats()
        self._engine = engine
        self._description = description
        self._max_sessions = max_sessions
        self._max_delay_seconds = max_delay_seconds
        self._handover = _Handover()
        self._group: _Group | None = None
        self._finishing: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncConnection]:
        """Run the block in a savepoint of the current group; exit once the group committed.

        An error in the block rolls back this session only and is raised after
        the group's outcome is known. If the group fails, the session raises
        Unavailable instead, whether the block succeeded or not, because the
        block may have read changes of the group that are now gone.
        """
        group, savepoint = await self._start_session()
        failure: BaseException | None = None
        try:
            yield group.connection
        except BaseException as exc:
            failure = exc

        await asyncio.shield(self._end_session(group, savepoint, failed=failure is not None))
        if failure is not None and not isinstance(failure, Exception):
            raise failure  # cancelled, so the caller no longer waits for the outcome
        await self._outcome(group)
        if failure is not None:
            raise failure

    async def close(self) -> None:
        """Commit the open group, if any, and wait for every commit to finish."""
        await self._acquire()
        self._release()
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    async def _acquire(self) -> None:
        turn = self._handover.take_or_queue()
        if turn is None:
            return
        try:
            await turn
        except asyncio.CancelledError:
            if turn.cancelled():
                self._handover.waiters.remove(turn)
            else:
                self._release()  # cancelled just after the connection was handed over
            raise

    async def _start_session(self) -> tuple[_Group, AsyncTransaction]:
        await self._acquire()
        try:
            group = await self._open_group()
        except BaseException:
            self._release()
            raise

        try:
            savepoint = await group.connection.begin_nested()
        except BaseException as exc:
            group.broken = exc if isinstance(exc, Exception) else RuntimeError("cancelled")
            self._release()
            raise
        group.sessions += 1
        return group, savepoint

    async def _open_group(self) -> _Group:
        if self._group is not None:
            return self._group
        connection = await self._engine.connect()
        try:
            transaction = await connection.begin()
        except BaseException:
            await connection.close()
            raise
        loop = asyncio.get_running_loop()
        self._group = _Group(connection, transaction, loop.time(), loop.create_future())
        return self._group

    async def _end_session(
        self, group: _Group, savepoint: AsyncTransaction, *, failed: bool
    ) -> None:
        try:
            if failed:
                await savepoint.rollback()
            else:
                await savepoint.commit()
        except Exception as exc:
            # SQLite may have rolled back the whole transaction (after an I/O
            # error or a full disk, for example), taking the other sessions'
            # changes with it, so the group cannot commit any more.
            log.warning("ending the savepoint of a write session failed, so its group of %d "
                        "sessions rolls back: %s", group.sessions, exc)
            group.broken = exc
        finally:
            self._release()

    def _release(self) -> None:
        """Pass the connection on: to the next session of the open group, or to its commit."""
        group = self._group
        if group is None or not self._must_finish(group):
            self._handover.pass_on()
            return
        self._group = None
        task = asyncio.get_running_loop().create_task(self._finish(group))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _must_finish(self, group: _Group) -> bool:
        age = asyncio.get_running_loop().time() - group.started
        return (
            group.broken is not None
            or not self._handover.has_waiters()
            or group.sessions >= self._max_sessions
            or age >= self._max_delay_seconds
        )

    async def _finish(self, group: _Group) -> None:
        """Commit or roll back ``group``, tell its sessions, then pass the connection on."""
        try:
            if group.broken is not None:
                raise group.broken
            await group.transaction.commit()
        except Exception as exc:
            self.stats.failed_groups += 1
            log.warning("database unavailable on %s: %s; the group commit of %d write sessions "
                        "failed and none of them is kept", self._description,
                        _describe_failure(exc), group.sessions)
            await self._discard(group)
            group.outcome.set_exception(exc)
        else:
            self.stats.commits += 1
            self.stats.sessions += group.sessions
            group.outcome.set_result(None)
        finally:
            if not group.outcome.done():  # the commit itself was cancelled
                group.outcome.set_exception(ConnectionError("the group commit was cancelled"))
            await self._close(group.connection)
            self._handover.pass_on()
        # Sessions that were cancelled while waiting never read the outcome.
        group.outcome.exception()

    async def _discard(self, group: _Group) -> None:
        try:
            await group.transaction.rollback()
        except Exception as exc:
            # The pool rolls back or discards the connection when it is closed.
            log.warning("rollback of a failed write group failed: %s", exc)

    async def _close(self, connection: AsyncConnection) -> None:
        try:
            await connection.close()
        except Exception as exc:
            log.warning("closing the writer connection failed, so it is discarded: %s", exc)
            await connection.invalidate()

    async def _outcome(self, group: _Group) -> None:
        try:
            await asyncio.shield(group.outcome)
        except Exception as exc:
            raise Unavailable(
                f"the database could not commit the request: {_describe_failure(exc)}; retry "
                "shortly, with the same Idempotency-Key if this was a submission"
            ) from exc


def _describe_failure(error: Exception) -> str:
    """Return why a group failed: the outage's reason where it is one, then the error's text."""
    message = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    reason = unavailable_reason(error) if isinstance(error, sa.exc.DBAPIError) else None
    return message if reason is None else f"{reason} ({message})"
