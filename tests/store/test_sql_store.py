from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from topchef.broker.models import Job, JobStatus, Service
from topchef.store import SQLStore, open_sql_store, parse_database_url, upgrade
from topchef.store.migrate import head_revision
from topchef.store.sql import next_jobs_query
from topchef.store.tables import metadata

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLStore]:
    target = parse_database_url(database_url)
    upgrade(target)
    opened = open_sql_store(target)
    yield opened
    await opened.close()


def make_service() -> Service:
    return Service(
        id=uuid4(), name="svc", description="", job_registration_schema={},
        job_result_schema={}, is_available=True, timeout=30,
        last_checked_in=START, created_at=START,
    )


def make_job(service: Service, *, priority: int = 0, offset: int = 0) -> Job:
    return Job(
        id=uuid4(), service_id=service.id, status=JobStatus.REGISTERED,
        parameters={"n": offset}, results=None, priority=priority,
        date_submitted=START + timedelta(seconds=offset),
        date_started=None, date_finished=None, seq=0,
    )


def test_migrations_build_declared_schema(database_url: str) -> None:
    target = parse_database_url(database_url)
    upgrade(target)

    engine = sa.create_engine(target.sync_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
        revision = context.get_current_revision()
    engine.dispose()

    assert differences == []
    assert revision == head_revision()


def _index_definitions(url: sa.URL) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        else:
            rows = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
        definitions = {name: " ".join(sql.split()) for name, sql in rows}
    engine.dispose()
    return definitions


def test_migrated_indexes_match_fresh(database_url: str, tmp_path: Path) -> None:
    migrated = parse_database_url(database_url)
    upgrade(migrated)
    if migrated.kind == "sqlite":
        fresh_url = sa.make_url(f"sqlite:///{tmp_path / 'fresh.db'}")
    else:
        fresh_url = migrated.sync_url
        engine = sa.create_engine(fresh_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE SCHEMA fresh_schema")
        engine.dispose()
        fresh_url = fresh_url.update_query_dict({"options": "-csearch_path=fresh_schema"})
    engine = sa.create_engine(fresh_url)
    try:
        metadata.create_all(engine)
        fresh = _index_definitions(fresh_url)
    finally:
        if migrated.kind != "sqlite":
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA fresh_schema CASCADE")
        engine.dispose()

    expected = {name: sql.replace("fresh_schema.", "") for name, sql in fresh.items()}
    actual = {name: sql for name, sql in _index_definitions(migrated.sync_url).items()
              if name != "alembic_version_pkc"}
    schema_prefix = f"{actual_schema(migrated.sync_url)}."
    assert {name: sql.replace(schema_prefix, "") for name, sql in actual.items()} == expected


def actual_schema(url: sa.URL) -> str:
    options = str(url.query.get("options", ""))
    return options.split("=", 1)[1] if "=" in options else "public"


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    target = parse_database_url(database_url)

    upgrade(target)
    upgrade(target)


async def test_round_trip_keeps_values(store: SQLStore) -> None:
    service = make_service()
    parameters = {"z": 1, "a": [1.5, "ü", None, {"nested": True}], "日本": "語"}
    job = Job(**{**{name: getattr(make_job(service), name) for name in Job.__slots__},
                 "parameters": parameters})

    async with store.write() as session:
        await session.insert_service(service)
        (stored,) = await session.insert_jobs([job])
    async with store.read() as session:
        read_back = await session.get_job(job.id)
        service_back = await session.get_service(service.id)

    assert read_back == stored
    assert read_back is not None
    assert list(read_back.parameters) == ["z", "a", "日本"]
    assert read_back.date_submitted.tzinfo is not None
    assert service_back == service


async def test_dispatch_order_priority_then_fifo(store: SQLStore) -> None:
    service = make_service()
    async with store.write() as session:
        await session.insert_service(service)
        low, high, later_low = await session.insert_jobs([
            make_job(service, priority=0, offset=0),
            make_job(service, priority=5, offset=1),
            make_job(service, priority=0, offset=2),
        ])

    async with store.read() as session:
        order = [job.id for job in await session.next_jobs(service.id, 10, START)]

    assert order == [high.id, low.id, later_low.id]


async def test_list_jobs_newest_first(store: SQLStore) -> None:
    service = make_service()
    async with store.write() as session:
        await session.insert_service(service)
        stored = await session.insert_jobs([make_job(service, offset=n) for n in range(4)])

    async with store.read() as session:
        first = await session.list_jobs(service.id, limit=2, newest_first=True)
        rest = await session.list_jobs(service.id, after_seq=first[-1].seq, newest_first=True)

    assert [job.id for job in first] == [stored[3].id, stored[2].id]
    assert [job.id for job in rest] == [stored[1].id, stored[0].id]


async def test_failed_write_leaves_nothing(store: SQLStore) -> None:
    service = make_service()

    with pytest.raises(RuntimeError):
        async with store.write() as session:
            await session.insert_service(service)
            raise RuntimeError("abort the transaction")

    async with store.read() as session:
        assert await session.get_service(service.id) is None


async def test_concurrent_writes_all_commit(store: SQLStore) -> None:
    service = make_service()
    async with store.write() as session:
        await session.insert_service(service)

    async def insert(offset: int) -> None:
        async with store.write() as session:
            await session.insert_jobs([make_job(service, offset=offset)])

    await asyncio.gather(*(insert(offset) for offset in range(50)))

    async with store.read() as session:
        counts = await session.count_jobs(service.id)
    assert counts[JobStatus.REGISTERED] == 50


async def test_seq_not_reused_after_delete(sqlite_url: str) -> None:
    target = parse_database_url(sqlite_url)
    upgrade(target)
    store = open_sql_store(target)
    service = make_service()
    try:
        async with store.write() as session:
            await session.insert_service(service)
            (newest,) = await session.insert_jobs([make_job(service)])
        engine = sa.create_engine(target.sync_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM jobs")
        engine.dispose()
        async with store.write() as session:
            (after,) = await session.insert_jobs([make_job(service)])
    finally:
        await store.close()

    assert after.seq > newest.seq


async def test_sqlite_commits_durably(sqlite_url: str) -> None:
    target = parse_database_url(sqlite_url)
    upgrade(target)
    store = open_sql_store(target)
    try:
        async with store.write() as session:
            connection = session._connection
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            synchronous = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
            foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    finally:
        await store.close()

    assert journal == "wal"
    assert synchronous == 2  # FULL
    assert foreign_keys == 1


@pytest.mark.postgres
async def test_postgres_plans_each_claim(postgres_url: str) -> None:
    # A generic plan of the claim scans every queued job once psycopg has
    # prepared it: at a million jobs a claim took about 200 ms in place of 3 ms.
    target = parse_database_url(postgres_url)
    upgrade(target)
    store = open_sql_store(target)
    try:
        async with store.write() as session:
            mode = (await session._connection.exec_driver_sql("SHOW plan_cache_mode")).scalar()
    finally:
        await store.close()

    assert mode == "force_custom_plan"


def test_sqlite_next_job_uses_queue_index(sqlite_url: str) -> None:
    target = parse_database_url(sqlite_url)
    upgrade(target)
    query = next_jobs_query(uuid4(), 1)

    engine = sa.create_engine(target.sync_url)
    with engine.connect() as connection:
        sql = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        plan = " ".join(str(row[-1]) for row in rows)
    engine.dispose()

    assert "USING INDEX ix_jobs_queue" in plan
    assert "TEMP B-TREE" not in plan
