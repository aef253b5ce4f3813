"""The SQL store, one implementation for SQLite and PostgreSQL.

On SQLite the store keeps two engines. Writes go through one connection whose
transactions start with ``BEGIN IMMEDIATE``, so they wait for the write lock
(up to the busy timeout) at the start instead of failing on a lock upgrade
halfway. Concurrent write sessions share one transaction, each in a savepoint,
and one COMMIT (group commit, see ``topchef.store.group``). A session ends only
after the COMMIT that contains it. Reads go through a small pool, which WAL
mode lets run beside the writer. ``synchronous=FULL`` makes every commit durable before it returns.
On PostgreSQL one pool serves both, and rows read for an update are locked
with ``FOR UPDATE``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from topchef.broker.errors import DuplicateIdempotencyKey, ServiceNotFound, Unavailable
from topchef.broker.models import ClaimValues, Job, JobStatus, Service
from topchef.config import DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_MS
from topchef.store.claim import claim_parameters, claim_statement
from topchef.store.group import GroupCommitStats, GroupCommitWriter
from topchef.store.journal import SQLJournalQueries
from topchef.store.listen import listen_for_notifications
from topchef.store.readiness import check_schema_ready
from topchef.store.sqlite_reopen import ReopenAfterFileErrors
from topchef.store.tables import jobs, services
from topchef.store.unavailable import unavailable_reason
from topchef.store.urls import DatabaseTarget

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "topchef_jobs"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_READ_POOL_SIZE = 4



def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_loads(stored: Any) -> Any:
    # SQLite gives a column declared JSON numeric affinity, so a document that
    # is a bare number comes back as an int or float rather than text.
    if isinstance(stored, int | float):
        return stored
    return orjson.loads(stored)


def _service_from_row(row: sa.Row[Any]) -> Service:
    return Service(**row._mapping)


def _job_from_row(row: sa.Row[Any]) -> Job:
    return Job(**{**row._mapping, "status": JobStatus(row.status)})


def _values(record: Service | Job, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in type(record).__slots__ if name not in skip}
    if isinstance(values.get("status"), JobStatus):
        values["status"] = values["status"].value
    return values


_PRIORITY_ORDER = (jobs.c.priority.desc(), jobs.c.seq)
# A literal, not a bound parameter, so SQLite can match the partial queue index.
_IS_REGISTERED = jobs.c.status == sa.literal_column("'REGISTERED'")


def next_jobs_query(
    service_id: UUID | sa.BindParameter[Any],
    limit: int | sa.BindParameter[Any],
    *,
    now: datetime | sa.BindParameter[Any] | None = None,
    fifo: bool = False,
) -> sa.Select[Any]:
    """Select the next ``limit`` REGISTERED jobs of a service from a queue index.

    With ``now``, jobs still waiting out a retry delay are skipped. With
    ``fifo``, the oldest jobs come first whatever their priority.
    """
    query = jobs.select().where(jobs.c.service_id == service_id, _IS_REGISTERED)
    if now is not None:
        query = query.where(sa.or_(jobs.c.visible_at.is_(None), jobs.c.visible_at <= now))
    order = (jobs.c.seq,) if fifo else _PRIORITY_ORDER
    return query.order_by(*order).limit(limit)


# Built once: a statement object memoizes its cache key, so executing it again
# skips building the statement and its key (both showed in profiles of submit).
_GET_SERVICE = services.select().where(services.c.id == sa.bindparam("service_id"))
_INSERT_JOBS = jobs.insert().returning(jobs.c.seq, sort_by_parameter_order=True)


def _dispatch_key(job: Job, *, fifo: bool) -> tuple[int, ...]:
    return (job.seq,) if fifo else (-job.priority, job.seq)


class SQLSession(SQLJournalQueries):
    """Queries inside one transaction; see ``StoreSession`` for the contract."""

    def __init__(self, connection: AsyncConnection, *, locks_rows: bool) -> None:
        self._connection = connection
        self._locks_rows = locks_rows
        self._announces = locks_rows  # both are PostgreSQL-only

    async def insert_service(self, service: Service) -> None:
        await self._connection.execute(services.insert().values(**_values(service)))

    async def get_service(self, service_id: UUID) -> Service | None:
        result = await self._connection.execute(_GET_SERVICE, {"service_id": service_id})
        row = result.first()
        return None if row is None else _service_from_row(row)

    async def list_services(self) -> Sequence[Service]:
        result = await self._connection.execute(
            services.select().order_by(services.c.created_at, services.c.id)
        )
        return [_service_from_row(row) for row in result]

    async def update_service(self, service_id: UUID, changes: Mapping[str, Any]) -> None:
        await self._connection.execute(
            services.update().where(services.c.id == service_id).values(**changes)
        )

    async def delete_service(self, service_id: UUID) -> None:
        # Jobs go first: foreign keys cascade on PostgreSQL, but only where
        # SQLite's foreign_keys pragma is on, so the store does not rely on it.
        await self._connection.execute(jobs.delete().where(jobs.c.service_id == service_id))
        await self._connection.execute(services.delete().where(services.c.id == service_id))

    async def insert_jobs(self, new_jobs: Sequence[Job]) -> list[Job]:
        try:
            result = await self._connection.execute(
                _INSERT_JOBS, [_values(job, skip=("seq",)) for job in new_jobs]
            )
        except sa.exc.IntegrityError as exc:
            if "foreign key" in str(exc.orig).lower():
                # The service was deleted after the caller last read it.
                raise ServiceNotFound(new_jobs[0].service_id) from exc
            if "idempotency_key" not in str(exc.orig):
                raise
            raise DuplicateIdempotencyKey(
                "another submission with this Idempotency-Key was stored first"
            ) from exc
        seqs = result.scalars().all()
        return [Job(**{**_values(job), "status": job.status, "seq": seq})
                for job, seq in zip(new_jobs, seqs, strict=True)]

    async def get_job(self, job_id: UUID, *, for_update: bool = False) -> Job | None:
        query = jobs.select().where(jobs.c.id == job_id)
        if for_update and self._locks_rows:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).first()
        return None if row is None else _job_from_row(row)

    async def find_job_by_key(self, service_id: UUID, idempotency_key: str) -> Job | None:
        query = jobs.select().where(
            jobs.c.service_id == service_id, jobs.c.idempotency_key == idempotency_key
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else _job_from_row(row)

    async def list_jobs(
        self,
        service_id: UUID | None = None,
        *,
        statuses: Sequence[JobStatus] = (),
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Sequence[Job]:
        if newest_first:
            query = jobs.select().order_by(jobs.c.seq.desc())
            if after_seq:
                query = query.where(jobs.c.seq < after_seq)
        else:
            query = jobs.select().where(jobs.c.seq > after_seq).order_by(jobs.c.seq)
        if service_id is not None:
            query = query.where(jobs.c.service_id == service_id)
        if statuses:
            query = query.where(jobs.c.status.in_([status.value for status in statuses]))
        if limit is not None:
            query = query.limit(limit)
        return [_job_from_row(row) for row in await self._connection.execute(query)]

    async def recent_jobs(self, service_id: UUID, limit: int) -> Sequence[Job]:
        query = (
            jobs.select()
            .where(jobs.c.service_id == service_id)
            .order_by(jobs.c.seq.desc())
            .limit(limit)
        )
        rows = await self._connection.execute(query)
        return [_job_from_row(row) for row in rows][::-1]

    async def next_jobs(self, service_id: UUID, limit: int, now: datetime) -> Sequence[Job]:
        query = next_jobs_query(service_id, limit, now=now)
        return [_job_from_row(row) for row in await self._connection.execute(query)]

    async def claim_jobs(self, service_id: UUID, claim: ClaimValues) -> Sequence[Job]:
        statement = claim_statement(fifo=claim.fifo, locks_rows=self._locks_rows)
        result = await self._connection.execute(statement, claim_parameters(service_id, claim))
        claimed = [_job_from_row(row) for row in result]
        return sorted(claimed, key=lambda job: _dispatch_key(job, fifo=claim.fifo))

    async def expired_leases(self, now: datetime, limit: int) -> Sequence[Job]:
        query = (
            jobs.select()
            .where(jobs.c.lease_token.is_not(None), jobs.c.lease_expires_at <= now)
            .order_by(jobs.c.lease_expires_at)
            .limit(limit)
        )
        if self._locks_rows:
            query = query.with_for_update(skip_locked=True)
        return [_job_from_row(row) for row in await self._connection.execute(query)]

    async def update_job(
        self, job_id: UUID, changes: Mapping[str, Any], *, lease_token: str | None = None
    ) -> bool:
        values = dict(changes)
        if isinstance(values.get("status"), JobStatus):
            values["status"] = values["status"].value
        statement = jobs.update().where(jobs.c.id == job_id).values(**values)
        if lease_token is not None:
            statement = statement.where(jobs.c.lease_token == lease_token)
        result = await self._connection.execute(statement)
        return result.rowcount == 1

    async def delete_job(self, job_id: UUID) -> None:
        await self._connection.execute(jobs.delete().where(jobs.c.id == job_id))

    async def count_jobs(self, service_id: UUID) -> Mapping[JobStatus, int]:
        query = (
            sa.select(jobs.c.status, sa.func.count())
            .where(jobs.c.service_id == service_id)
            .group_by(jobs.c.status)
        )
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in await self._connection.execute(query):
            counts[JobStatus(status)] = count
        return counts

    async def count_jobs_by_service(self) -> Mapping[tuple[UUID, JobStatus], int]:
        query = sa.select(jobs.c.service_id, jobs.c.status, sa.func.count()).group_by(
            jobs.c.service_id, jobs.c.status
        )
        rows = await self._connection.execute(query)
        return {(service_id, JobStatus(status)): count for service_id, status, count in rows}

    async def announce(self, payload: str) -> None:
        if self._announces:
            await self._connection.execute(
                sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, payload))
            )

    async def purge_finished(self, service_id: UUID, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the service's jobs that finished before ``before``."""
        oldest = (
            sa.select(jobs.c.seq)
            .where(
                jobs.c.service_id == service_id,
                jobs.c.date_finished.is_not(None),
                jobs.c.date_finished < before,
                jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.ERROR.value]),
            )
            .order_by(jobs.c.date_finished)
            .limit(limit)
        )
        result = await self._connection.execute(
            jobs.delete().where(jobs.c.seq.in_(oldest.scalar_subquery()))
        )
        return result.rowcount


class SQLStore:
    """A store on SQLite or PostgreSQL through SQLAlchemy Core."""

    def __init__(
        self,
        target: DatabaseTarget,
        *,
        reader: AsyncEngine,
        writer: AsyncEngine,
        group_writer: GroupCommitWriter | None = None,
    ) -> None:
        self.description = f"{target.kind} at {target.describe()}"
        self._reader = reader
        self._writer = writer
        self._group_writer = group_writer
        self._locks_rows = target.kind == "postgresql"
        self._listen_url = target.sync_url if target.kind == "postgresql" else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SQLSession]:
        with self._unavailable_on_connection_errors():
            async with self._reader.connect() as connection, connection.begin():
                yield SQLSession(connection, locks_rows=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SQLSession]:
        with self._unavailable_on_connection_errors():
            if self._group_writer is not None:
                async with self._group_writer.session() as connection:
                    yield SQLSession(connection, locks_rows=self._locks_rows)
                return
            async with self._writer.begin() as connection:
                yield SQLSession(connection, locks_rows=self._locks_rows)

    @property
    def group_commits(self) -> GroupCommitStats | None:
        """Group commit counts on SQLite; None on PostgreSQL, which commits each write."""
        return None if self._group_writer is None else self._group_writer.stats

    @contextlib.contextmanager
    def _unavailable_on_connection_errors(self) -> Iterator[None]:
        """Turn a database that cannot serve the request now into Unavailable (503).

        The client gets no success, so nothing is acknowledged; a commit whose
        reply was lost may still have been applied, which is why the message
        requests a retry with the same Idempotency-Key. The pool replaces the
        dead connection for the next request.
        """
        try:
            yield
        except sa.exc.TimeoutError as exc:
            log.warning("no free database connection on %s within the pool timeout",
                        self.description)
            raise Unavailable(
                "the server has no free database connection; retry shortly"
            ) from exc
        except sa.exc.DBAPIError as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            message = str(exc.orig or exc).strip().splitlines()[0]
            log.warning("database unavailable on %s: %s (%s)", self.description, reason, message)
            raise Unavailable(
                f"the database could not complete the request: {reason} ({message}); retry "
                "later, with the same Idempotency-Key if this was a submission"
            ) from exc

    def listen(self, receive: Callable[[str], None]) -> AbstractAsyncContextManager[None]:
        if self._listen_url is None:
            return contextlib.nullcontext()
        return listen_for_notifications(self._listen_url, NOTIFY_CHANNEL, receive)

    async def check_ready(self) -> str | None:
        return await check_schema_ready(self._reader, self.description)

    async def close(self) -> None:
        if self._group_writer is not None:
            await self._group_writer.close()
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


def open_sql_store(
    target: DatabaseTarget,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> SQLStore:
    """Create the engines for ``target``; the schema must already be migrated.

    ``pool_size`` and ``statement_timeout_ms`` apply to PostgreSQL only: SQLite
    has one writer connection and a few readers.
    """
    if target.kind == "sqlite":
        _switch_to_wal(target)
        writer = _sqlite_engine(target, pool_size=1, begin="BEGIN IMMEDIATE")
        reader = _sqlite_engine(target, pool_size=SQLITE_READ_POOL_SIZE, begin="BEGIN")
        reopen = ReopenAfterFileErrors()
        reopen.watch(writer)
        reopen.watch(reader)
        return SQLStore(target, reader=reader, writer=writer,
                        group_writer=GroupCommitWriter(
                            writer, description=f"{target.kind} at {target.describe()}"))

    # pool_pre_ping replaces connections that died (a database restart, a
    # dropped network link) before a request uses them.
    engine = create_async_engine(
        target.async_url, json_serializer=_json_dumps, json_deserializer=_json_loads,
        pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def set_statement_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        # psycopg prepares a statement on the server after a few runs, and PostgreSQL
        # may then plan the claim once for any LIMIT: a hash join over every queued
        # job, whose cost grows with the queue. A plan for each run's values keeps
        # the claim on the queue index.
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.close()
        dbapi_connection.commit()

    return SQLStore(target, reader=engine, writer=engine)


def _switch_to_wal(target: DatabaseTarget) -> None:
    """Put the database file in WAL mode before the pools open their connections.

    Left to the pooled connections, the switch of a new file made its first
    reader and first writer race for the exclusive lock the switch takes. A
    test run once saw the first read of a new server fail with "database is
    locked" (a 503) that way.
    """
    engine = sa.create_engine(target.sync_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    finally:
        engine.dispose()


def _sqlite_engine(target: DatabaseTarget, *, pool_size: int, begin: str) -> AsyncEngine:
    engine = create_async_engine(
        target.async_url,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so "begin" below decides how
        # each transaction starts (the recipe SQLAlchemy documents for SQLite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The lock wait comes first, so that the pragmas after it wait for locks too.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin_transaction(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
