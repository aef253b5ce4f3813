"""The SQL store, one implementation for SQLite and PostgreSQL.

On SQLite the store keeps two engines: one connection for writes, whose
transactions start with ``BEGIN IMMEDIATE`` so they never fail halfway on a
lock upgrade, and a small pool for reads, which WAL mode lets run beside the
writer. ``synchronous=FULL`` makes every commit durable before it returns.
On PostgreSQL one pool serves both, and rows read for an update are locked
with ``FOR UPDATE``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from topchef.broker.models import Job, JobStatus, Service
from topchef.store.tables import jobs, services
from topchef.store.urls import DatabaseTarget

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_READ_POOL_SIZE = 4


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _service_from_row(row: sa.Row[Any]) -> Service:
    return Service(
        id=row.id,
        name=row.name,
        description=row.description,
        job_registration_schema=row.job_registration_schema,
        job_result_schema=row.job_result_schema,
        is_available=row.is_available,
        timeout=row.timeout,
        last_checked_in=row.last_checked_in,
        created_at=row.created_at,
    )


def _job_from_row(row: sa.Row[Any]) -> Job:
    return Job(
        id=row.id,
        service_id=row.service_id,
        status=JobStatus(row.status),
        parameters=row.parameters,
        results=row.results,
        priority=row.priority,
        date_submitted=row.date_submitted,
        date_started=row.date_started,
        date_finished=row.date_finished,
        seq=row.seq,
    )


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "service_id": job.service_id,
        "status": job.status.value,
        "priority": job.priority,
        "parameters": job.parameters,
        "results": job.results,
        "date_submitted": job.date_submitted,
        "date_started": job.date_started,
        "date_finished": job.date_finished,
    }


_DISPATCH_ORDER = (jobs.c.priority.desc(), jobs.c.seq)
# A literal, not a bound parameter, so SQLite can match the partial queue index.
_IS_REGISTERED = jobs.c.status == sa.literal_column("'REGISTERED'")


def next_jobs_query(service_id: UUID, limit: int) -> sa.Select[Any]:
    """Select the next ``limit`` REGISTERED jobs of a service from the queue index alone."""
    return (
        jobs.select()
        .where(jobs.c.service_id == service_id, _IS_REGISTERED)
        .order_by(*_DISPATCH_ORDER)
        .limit(limit)
    )


class SQLSession:
    """Queries inside one transaction; see ``StoreSession`` for the contract."""

    def __init__(self, connection: AsyncConnection, *, locks_rows: bool) -> None:
        self._connection = connection
        self._locks_rows = locks_rows

    async def insert_service(self, service: Service) -> None:
        await self._connection.execute(
            services.insert().values(
                id=service.id,
                name=service.name,
                description=service.description,
                job_registration_schema=service.job_registration_schema,
                job_result_schema=service.job_result_schema,
                is_available=service.is_available,
                timeout=service.timeout,
                last_checked_in=service.last_checked_in,
                created_at=service.created_at,
            )
        )

    async def get_service(self, service_id: UUID) -> Service | None:
        result = await self._connection.execute(
            services.select().where(services.c.id == service_id)
        )
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

    async def insert_job(self, job: Job) -> Job:
        result = await self._connection.execute(
            jobs.insert().values(**_job_values(job)).returning(jobs.c.seq)
        )
        seq = result.scalar_one()
        return Job(**{**_job_fields(job), "seq": seq})

    async def get_job(self, job_id: UUID, *, for_update: bool = False) -> Job | None:
        query = jobs.select().where(jobs.c.id == job_id)
        if for_update and self._locks_rows:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).first()
        return None if row is None else _job_from_row(row)

    async def list_jobs(self, service_id: UUID | None = None) -> Sequence[Job]:
        query = jobs.select().order_by(jobs.c.seq)
        if service_id is not None:
            query = query.where(jobs.c.service_id == service_id)
        return [_job_from_row(row) for row in await self._connection.execute(query)]

    async def next_jobs(self, service_id: UUID, limit: int) -> Sequence[Job]:
        query = next_jobs_query(service_id, limit)
        return [_job_from_row(row) for row in await self._connection.execute(query)]

    async def update_job(self, job_id: UUID, changes: Mapping[str, Any]) -> None:
        values = dict(changes)
        if isinstance(values.get("status"), JobStatus):
            values["status"] = values["status"].value
        await self._connection.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

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


def _job_fields(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in Job.__slots__}


class SQLStore:
    """A store on SQLite or PostgreSQL through SQLAlchemy Core."""

    def __init__(self, target: DatabaseTarget, *, reader: AsyncEngine, writer: AsyncEngine) -> None:
        self.description = f"{target.kind} at {target.describe()}"
        self._reader = reader
        self._writer = writer
        self._locks_rows = target.kind == "postgresql"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SQLSession]:
        async with self._reader.connect() as connection, connection.begin():
            yield SQLSession(connection, locks_rows=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SQLSession]:
        async with self._writer.begin() as connection:
            yield SQLSession(connection, locks_rows=self._locks_rows)

    async def close(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


def open_sql_store(target: DatabaseTarget) -> SQLStore:
    """Create the engines for ``target``; the schema must already be migrated."""
    if target.kind == "sqlite":
        writer = _sqlite_engine(target, pool_size=1, begin="BEGIN IMMEDIATE")
        reader = _sqlite_engine(target, pool_size=SQLITE_READ_POOL_SIZE, begin="BEGIN")
        return SQLStore(target, reader=reader, writer=writer)

    engine = create_async_engine(
        target.async_url, json_serializer=_json_dumps, json_deserializer=orjson.loads,
        pool_pre_ping=True,
    )
    return SQLStore(target, reader=engine, writer=engine)


def _sqlite_engine(target: DatabaseTarget, *, pool_size: int, begin: str) -> AsyncEngine:
    engine = create_async_engine(
        target.async_url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
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
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin_transaction(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
