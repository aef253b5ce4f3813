"""Group commit on SQLite: concurrent write sessions share one COMMIT.

The sessions queue deterministically: every task enters ``store.write()``
before the first session's block goes on, because entering only queues for
the connection and has no await before it. A large time bound keeps the
group open for as long as writers wait, so the counts do not depend on speed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from topchef.broker import Broker, NewJob, NewService
from topchef.broker.errors import DuplicateIdempotencyKey, Unavailable
from topchef.broker.models import Job, JobStatus, Service
from topchef.store import SQLStore, StoreSession, open_sql_store, parse_database_url, sql, upgrade
from topchef.store.group import GroupCommitStats, GroupCommitWriter

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SESSIONS = 8
SLOW_GROUP_SECONDS = 60.0
"""A time bound that no test reaches, so only queued writers and size end a group."""

Body = Callable[[StoreSession], Awaitable[None]]


class Boom(Exception):
    """A failure inside one write session's block."""


def make_service() -> Service:
    return Service(
        id=uuid4(), name="svc", description="", job_registration_schema={},
        job_result_schema={}, is_available=True, timeout=30,
        last_checked_in=START, created_at=START,
    )


def make_job(service_id: UUID, *, key: str | None = None) -> Job:
    return Job(
        id=uuid4(), service_id=service_id, status=JobStatus.REGISTERED,
        parameters={}, results=None, priority=0, date_submitted=START,
        date_started=None, date_finished=None, seq=0, idempotency_key=key,
    )


async def open_store(
    url: str, monkeypatch: pytest.MonkeyPatch, *, max_sessions: int = 64
) -> SQLStore:
    writer = functools.partial(
        GroupCommitWriter, max_sessions=max_sessions, max_delay_seconds=SLOW_GROUP_SECONDS
    )
    monkeypatch.setattr(sql, "GroupCommitWriter", writer)
    target = parse_database_url(url)
    upgrade(target)
    return open_sql_store(target)


@pytest.fixture
async def store(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SQLStore]:
    opened = await open_store(sqlite_url, monkeypatch)
    yield opened
    await opened.close()


@pytest.fixture
async def service(store: SQLStore) -> Service:
    created = make_service()
    async with store.write() as session:
        await session.insert_service(created)
    return created


def stats(store: SQLStore) -> GroupCommitStats:
    counts = store.group_commits
    assert counts is not None
    return GroupCommitStats(counts.commits, counts.sessions, counts.failed_groups)


async def run_queued(store: SQLStore, bodies: list[Body]) -> list[BaseException | None]:
    """Run each body in its own write session, all queued before the first goes on."""
    entered = 0
    all_entered = asyncio.Event()

    async def run(index: int, body: Body) -> None:
        nonlocal entered
        entered += 1
        if entered == len(bodies):
            all_entered.set()
        async with store.write() as session:
            if index == 0:
                await all_entered.wait()
            await body(session)

    tasks = [run(index, body) for index, body in enumerate(bodies)]
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)


def inserting(service: Service, job: Job) -> Body:
    async def body(session: StoreSession) -> None:
        await session.insert_jobs([job])
    return body


async def stored_ids(store: SQLStore) -> set[UUID]:
    async with store.read() as session:
        return {job.id for job in await session.list_jobs()}


async def test_idle_write_commits_at_once(store: SQLStore, service: Service) -> None:
    before = stats(store)
    job = make_job(service.id)

    async with store.write() as session:
        await session.insert_jobs([job])

    assert stats(store).commits == before.commits + 1
    assert await stored_ids(store) == {job.id}


async def test_queued_sessions_share_one_commit(store: SQLStore, service: Service) -> None:
    before = stats(store)
    new_jobs = [make_job(service.id) for _ in range(SESSIONS)]

    results = await run_queued(store, [inserting(service, job) for job in new_jobs])

    assert results == [None] * SESSIONS
    assert stats(store).commits == before.commits + 1
    assert stats(store).sessions == before.sessions + SESSIONS
    assert await stored_ids(store) == {job.id for job in new_jobs}


async def test_group_size_is_bounded(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await open_store(sqlite_url, monkeypatch, max_sessions=3)
    try:
        service = make_service()
        async with store.write() as session:
            await session.insert_service(service)
        before = stats(store)
        new_jobs = [make_job(service.id) for _ in range(SESSIONS)]

        await run_queued(store, [inserting(service, job) for job in new_jobs])

        assert stats(store).commits == before.commits + 3  # groups of 3, 3 and 2
        assert await stored_ids(store) == {job.id for job in new_jobs}
    finally:
        await store.close()


async def test_failed_session_keeps_the_others(store: SQLStore, service: Service) -> None:
    new_jobs = [make_job(service.id) for _ in range(SESSIONS)]
    doomed = make_job(service.id)

    async def failing(session: StoreSession) -> None:
        await session.insert_jobs([doomed])
        raise Boom("this session fails")

    bodies = [inserting(service, job) for job in new_jobs]
    bodies.insert(3, failing)
    results = await run_queued(store, bodies)

    assert isinstance(results[3], Boom)
    assert results[:3] + results[4:] == [None] * SESSIONS
    assert await stored_ids(store) == {job.id for job in new_jobs}


async def test_duplicate_key_rolls_back_one_session(store: SQLStore, service: Service) -> None:
    first = make_job(service.id, key="same")
    second_extra = make_job(service.id)
    second = make_job(service.id, key="same")
    third = make_job(service.id)

    async def duplicate(session: StoreSession) -> None:
        await session.insert_jobs([second_extra])
        await session.insert_jobs([second])

    results = await run_queued(store, [
        inserting(service, first), duplicate, inserting(service, third),
    ])

    assert results[0] is None
    assert isinstance(results[1], DuplicateIdempotencyKey)
    assert results[2] is None
    assert await stored_ids(store) == {first.id, third.id}


async def test_failed_commit_keeps_nothing(store: SQLStore, service: Service) -> None:
    new_jobs = [make_job(service.id) for _ in range(3)]

    async def orphan(session: StoreSession) -> None:
        # A deferred foreign key is checked only at COMMIT, which then fails.
        connection = session._connection  # type: ignore[attr-defined]
        await connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        await session.insert_jobs([make_job(uuid4())])

    async def failing(session: StoreSession) -> None:
        raise Boom("this session fails")

    bodies = [inserting(service, job) for job in new_jobs] + [orphan, failing]
    results = await run_queued(store, bodies)

    assert all(isinstance(result, Unavailable) for result in results)
    assert stats(store).failed_groups == 1
    assert await stored_ids(store) == set()

    after = make_job(service.id)
    async with store.write() as session:
        await session.insert_jobs([after])
    assert await stored_ids(store) == {after.id}


async def test_lost_transaction_fails_group(store: SQLStore, service: Service) -> None:
    new_jobs = [make_job(service.id) for _ in range(2)]

    async def rolled_back(session: StoreSession) -> None:
        # SQLite rolls back the whole transaction after some errors (a full
        # disk, an I/O error), so the savepoint of this session is gone too.
        connection = session._connection  # type: ignore[attr-defined]
        await connection.exec_driver_sql("ROLLBACK")
        raise Boom("this session fails after the rollback")

    bodies = [inserting(service, new_jobs[0]), rolled_back, inserting(service, new_jobs[1])]
    results = await run_queued(store, bodies)

    # The broken group ends at once, so the third session starts a new one.
    assert isinstance(results[0], Unavailable)
    assert isinstance(results[1], Unavailable)
    assert results[2] is None
    assert stats(store).failed_groups == 1
    assert await stored_ids(store) == {new_jobs[1].id}


async def test_readers_see_only_committed(store: SQLStore, service: Service) -> None:
    first, second = make_job(service.id), make_job(service.id)
    seen_by_reader: list[set[UUID]] = []

    async def read_then_insert(session: StoreSession) -> None:
        # The first session released its savepoint, but its group is still open.
        seen_by_reader.append(await stored_ids(store))
        await session.insert_jobs([second])

    results = await run_queued(store, [inserting(service, first), read_then_insert])

    assert results == [None, None]
    assert seen_by_reader == [set()]
    assert await stored_ids(store) == {first.id, second.id}


async def test_write_is_readable_on_return(store: SQLStore, service: Service) -> None:
    async def write_then_read(job: Job) -> Job | None:
        async with store.write() as session:
            await session.insert_jobs([job])
        async with store.read() as session:
            return await session.get_job(job.id)

    new_jobs = [make_job(service.id) for _ in range(4 * SESSIONS)]
    read_back = await asyncio.gather(*(write_then_read(job) for job in new_jobs))

    assert [job.id if job else None for job in read_back] == [job.id for job in new_jobs]
    assert stats(store).commits < len(new_jobs)


async def test_writer_sees_group_changes(store: SQLStore, service: Service) -> None:
    first = make_job(service.id, key="k")
    found: list[Job | None] = []

    async def lookup(session: StoreSession) -> None:
        found.append(await session.find_job_by_key(service.id, "k"))

    await run_queued(store, [inserting(service, first), lookup])

    assert [job.id if job else None for job in found] == [first.id]


async def test_same_key_submits_share_one_job(store: SQLStore) -> None:
    broker = Broker(store)
    service = await broker.create_service(NewService(
        name="svc", description="", job_registration_schema={}, job_result_schema={},
    ))

    submitted = await asyncio.gather(*(
        broker.submit_job(service.id, NewJob({"n": 1}), idempotency_key="same")
        for _ in range(SESSIONS)
    ))

    job_ids = {job.id for job, _ in submitted}
    assert [created for _, created in submitted].count(True) == 1
    assert len(job_ids) == 1
    assert await stored_ids(store) == job_ids


async def test_cancelled_waiter_leaves_group_whole(store: SQLStore, service: Service) -> None:
    committed_jobs = [make_job(service.id) for _ in range(3)]
    release_first = asyncio.Event()

    async def first(session: StoreSession) -> None:
        await session.insert_jobs([committed_jobs[0]])
        await release_first.wait()

    async def write(body: Body) -> None:
        async with store.write() as session:
            await body(session)

    tasks = [asyncio.create_task(write(first))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(write(inserting(service, job))) for job in committed_jobs[1:]]
    cancelled = asyncio.create_task(write(inserting(service, make_job(service.id))))
    await asyncio.sleep(0)
    cancelled.cancel()
    release_first.set()

    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await stored_ids(store) == {job.id for job in committed_jobs}


async def test_close_waits_for_queued_writes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(sqlite_url, monkeypatch)
    service = make_service()
    async with store.write() as session:
        await session.insert_service(service)
    new_jobs = [make_job(service.id) for _ in range(3)]

    async def write(job: Job) -> None:
        async with store.write() as session:
            await session.insert_jobs([job])

    writes = [asyncio.create_task(write(job)) for job in new_jobs]
    await asyncio.sleep(0)  # every write starts or queues before close() queues
    await store.close()

    reopened = open_sql_store(parse_database_url(sqlite_url))
    try:
        assert await stored_ids(reopened) == {job.id for job in new_jobs}
    finally:
        await reopened.close()
    await asyncio.gather(*writes)


async def test_postgres_has_no_group_commit(postgres_url: str) -> None:
    target = parse_database_url(postgres_url)
    upgrade(target)
    store = open_sql_store(target)
    try:
        assert store.group_commits is None
    finally:
        await store.close()
