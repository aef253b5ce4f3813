"""Idle long polls recheck the queue with shared reads, and submissions read in their write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from topchef.broker import (
    Broker,
    ClaimRequest,
    NewJob,
    NewService,
    Service,
    ServiceNotFound,
    dispatch,
)
from topchef.store import open_sql_store, parse_database_url, upgrade
from topchef.store.base import Store, StoreSession

RECHECK_SECONDS = 0.1
POLLS = 50


class CountingStore:
    """A store that counts the transactions it hands out."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.writes = 0
        self.reads = 0

    def write(self) -> AbstractAsyncContextManager[StoreSession]:
        self.writes += 1
        return self.inner.write()

    def read(self) -> AbstractAsyncContextManager[StoreSession]:
        self.reads += 1
        return self.inner.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CountingStore]:
    target = parse_database_url(database_url)
    upgrade(target)
    inner = open_sql_store(target)
    yield CountingStore(inner)
    await inner.close()


@pytest.fixture
def broker(store: CountingStore, monkeypatch: pytest.MonkeyPatch) -> Broker:
    monkeypatch.setattr(dispatch, "WAIT_RECHECK_SECONDS", RECHECK_SECONDS)
    return Broker(store)  # type: ignore[arg-type]  # a duck-typed Store


async def make_service(broker: Broker, schema: dict[str, Any] | None = None) -> Service:
    return await broker.create_service(NewService(
        name="svc", description="", job_registration_schema=schema or {}, job_result_schema={},
    ))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def start_polls(
    broker: Broker, service: Service, count: int, wait: float
) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(broker.dispatch.claim(
        service.id, ClaimRequest(worker=f"w{n}", wait_seconds=wait))) for n in range(count)]


async def test_idle_polls_commit_no_write_transactions(
    broker: Broker, store: CountingStore
) -> None:
    service = await make_service(broker)
    polls = start_polls(broker, service, POLLS, wait=30)
    await until(lambda: broker.open_long_polls() == POLLS)
    writes, reads = store.writes, store.reads

    await asyncio.sleep(10 * RECHECK_SECONDS)  # ten recheck periods of every poll
    idle_writes, idle_reads = store.writes - writes, store.reads - reads
    job, _ = await broker.submit_job(service.id, NewJob({}))
    await until(lambda: sum(task.done() for task in polls) == 1)
    broker.dispatch.drain()
    results = await asyncio.gather(*polls)

    assert idle_writes == 0
    assert 0 < idle_reads <= 5, "the rechecks of one service's polls share their reads"
    assert [claimed.id for result in results for claimed in result] == [job.id]


async def test_lost_wake_up_is_found_by_the_recheck(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await make_service(broker)
    (poll,) = start_polls(broker, service, 1, wait=30)
    await until(lambda: broker.open_long_polls() == 1)

    monkeypatch.setattr(broker.events, "deliver", lambda *events: None)
    job, _ = await broker.submit_job(service.id, NewJob({}))
    claimed = await asyncio.wait_for(poll, 20 * RECHECK_SECONDS)

    assert [c.id for c in claimed] == [job.id]


async def test_idle_poll_ends_empty_at_its_deadline(broker: Broker, store: CountingStore) -> None:
    service = await make_service(broker)
    writes = store.writes

    claimed = await broker.dispatch.claim(service.id, ClaimRequest(wait_seconds=0.3))

    assert claimed == []
    assert store.writes - writes == 1, "only the first claim is a write"


async def test_poll_on_deleted_service_reports_it(broker: Broker) -> None:
    service = await make_service(broker)
    (poll,) = start_polls(broker, service, 1, wait=30)
    await until(lambda: broker.open_long_polls() == 1)

    await broker.delete_service(service.id, force=False)

    with pytest.raises(ServiceNotFound):
        await asyncio.wait_for(poll, 20 * RECHECK_SECONDS)


async def test_submission_sees_a_deletion_by_another_process(
    broker: Broker, database_url: str
) -> None:
    """A second store on the same database plays the part of a second server process."""
    other_store = open_sql_store(parse_database_url(database_url))
    other = Broker(other_store)
    try:
        service = await make_service(other, {"type": "object", "required": ["n"]})
        await broker.submit_job(service.id, NewJob({"n": 1}))
        await other.delete_service(service.id, force=False)

        with pytest.raises(ServiceNotFound):
            await broker.submit_job(service.id, NewJob({"n": 2}))
        with pytest.raises(ServiceNotFound):
            await broker.submit_jobs(service.id, [NewJob({"n": 3})])
    finally:
        await other_store.close()


async def test_submission_reads_no_service_once_cached(
    broker: Broker, store: CountingStore
) -> None:
    service = await make_service(broker, {"type": "object", "required": ["n"]})
    await broker.submit_job(service.id, NewJob({"n": 1}))
    reads = store.reads

    await broker.submit_job(service.id, NewJob({"n": 2}), idempotency_key="k")
    await broker.submit_jobs(service.id, [NewJob({"n": 3})])

    assert store.reads == reads
