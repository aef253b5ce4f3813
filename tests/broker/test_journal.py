"""The event journal: rows written with each change and only with it, service timeouts,
the webhook outbox, and the stream of one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from topchef.broker import (
    Broker,
    ClaimRequest,
    Conflict,
    InvalidInput,
    JobPatch,
    JobStatus,
    LeaseLost,
    NewJob,
    NewService,
    Service,
    ServiceChanges,
    ServiceSettings,
)
from topchef.broker.journal import EventRecord, EventType
from topchef.broker.maintenance import expire_all_leases, purge_events
from topchef.broker.stream import EventFilter, KeepAlive, Reset, StreamSettings
from topchef.broker.timeouts import time_out_services
from topchef.store import open_sql_store, parse_database_url, upgrade

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ALLOWED_HOST = "127.0.0.1:9"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_broker(url: str, clock: Clock, **options: Any) -> Broker:
    store = open_sql_store(parse_database_url(url))
    return Broker(store, clock=clock, webhook_allow_hosts=frozenset({ALLOWED_HOST}), **options)


@pytest.fixture
async def broker(database_url: str, clock: Clock) -> AsyncIterator[Broker]:
    upgrade(parse_database_url(database_url))
    opened = make_broker(database_url, clock,
                         stream_settings=StreamSettings(heartbeat_seconds=0.2, window_events=3))
    yield opened
    await opened.store.close()


async def make_service(broker: Broker, **settings: Any) -> Service:
    return await broker.create_service(NewService(
        name="svc", description="", job_registration_schema={"type": "object"},
        job_result_schema={}, settings=ServiceSettings(**settings),
    ))


async def journal(broker: Broker) -> list[EventRecord]:
    async with broker.store.read() as session:
        return list(await session.read_events(0, upto=10**12, limit=1000))


async def types(broker: Broker) -> list[str]:
    return [record.type.value for record in await journal(broker)]


async def outbox_size(broker: Broker) -> int:
    async with broker.store.write() as session:
        due = await session.claim_webhook_deliveries(
            START + timedelta(days=1), until=START + timedelta(days=1), limit=100)
    return len(due)


async def test_submit_records_created(broker: Broker) -> None:
    service = await make_service(broker)
    job, _ = await broker.submit_job(service.id, NewJob({"secret": 1}))

    records = await journal(broker)

    assert [r.type for r in records] == [EventType.SERVICE_CREATED, EventType.JOB_CREATED]
    assert records[1].job_id == job.id
    assert records[1].status == "REGISTERED"
    assert "secret" not in str(records[1].to_json())


async def test_failed_changes_record_nothing(broker: Broker) -> None:
    service = await make_service(broker)
    job, _ = await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))
    before = await types(broker)

    with pytest.raises(InvalidInput):
        await broker.submit_job(service.id, NewJob([]))
    with pytest.raises(InvalidInput):
        await broker.submit_jobs(service.id, [NewJob({}), NewJob("not an object")])
    with pytest.raises(LeaseLost):
        await broker.patch_job(job.id, JobPatch(status=JobStatus.COMPLETED, lease_token="x"))
    with pytest.raises(Conflict):
        await broker.delete_job(claimed.id)
    with pytest.raises(Conflict):
        await broker.delete_service(service.id, force=False)
    assert await broker.dispatch.claim(service.id, ClaimRequest()) == []

    assert await types(broker) == before


async def test_batch_records_one_per_job(broker: Broker) -> None:
    service = await make_service(broker)
    created = await broker.submit_jobs(service.id, [NewJob({}) for _ in range(3)])

    records = (await journal(broker))[1:]

    assert [r.job_id for r in records] == [job.id for job in created]
    assert {r.type for r in records} == {EventType.JOB_CREATED}


async def test_lease_expiry_records_requeued(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10)
    await broker.submit_job(service.id, NewJob({}))
    await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))

    clock.advance(11)
    await expire_all_leases(broker)
    last = (await journal(broker))[-1]

    assert last.type == EventType.JOB_REQUEUED
    assert last.status == "REGISTERED"
    assert last.detail is not None
    assert "expired" in last.detail["error"]


async def test_cancel_working_then_failed(broker: Broker) -> None:
    service = await make_service(broker)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))

    await broker.dispatch.cancel(claimed.id)
    await broker.dispatch.fail(claimed.id, token=None, error="stopped", retry=False)
    records = (await journal(broker))[-2:]

    assert [(r.type, r.status) for r in records] == [
        (EventType.JOB_CANCELLED, "WORKING"), (EventType.JOB_FAILED, "ERROR")]


async def test_timeout_recorded_once(database_url: str, clock: Clock) -> None:
    """Two brokers on one database stand in for two server processes."""
    upgrade(parse_database_url(database_url))
    first, second = make_broker(database_url, clock), make_broker(database_url, clock)
    try:
        service = await make_service(first, timeout=5)
        clock.advance(6)
        marked = await asyncio.gather(time_out_services(first), time_out_services(second))
        again = await time_out_services(first)
        await first.check_in(service.id, ServiceChanges())
        clock.advance(6)
        after_check_in = await time_out_services(second)
        timed_out = [t for t in await types(first) if t == "service.timed_out"]
    finally:
        await first.store.close()
        await second.store.close()

    assert sorted(marked) == [0, 1]
    assert again == 0
    assert after_check_in == 1
    assert len(timed_out) == 2


async def test_mark_unavailable(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker)

    marked = await broker.mark_unavailable(service.id)
    await broker.mark_unavailable(service.id)

    assert not marked.is_available
    assert marked.has_timed_out(clock.now)
    assert (await types(broker)).count("service.timed_out") == 1


async def test_finished_job_queues_webhook(broker: Broker) -> None:
    service = await make_service(broker, callback_url=f"http://{ALLOWED_HOST}/hook")
    plain = await make_service(broker)
    for target in (service, plain):
        await broker.submit_job(target.id, NewJob({}))
        (claimed,) = await broker.dispatch.claim(target.id, ClaimRequest(worker="w1"))
        await broker.patch_job(claimed.id, JobPatch(status=JobStatus.COMPLETED, results={}))

    assert await outbox_size(broker) == 1


@pytest.mark.parametrize("url", [
    "http://127.0.0.2:9/hook", "http://127.0.0.1:10/hook", "ftp://127.0.0.1:9/",
    "http://user:pw@127.0.0.1:9/", "not a url",
])
async def test_callback_url_refused(broker: Broker, url: str) -> None:
    with pytest.raises(InvalidInput):
        await make_service(broker, callback_url=url)
    service = await make_service(broker)
    with pytest.raises(InvalidInput):
        await broker.check_in(service.id, ServiceChanges(
            settings=ServiceSettings(callback_url=url)))


async def test_stream_resumes_and_counts(broker: Broker) -> None:
    service = await make_service(broker)
    stop = asyncio.Event()
    stream = broker.feed.follow(0, EventFilter(service_ids=frozenset({service.id})), stop=stop)

    first = await anext(stream)
    job, _ = await broker.submit_job(service.id, NewJob({}))
    second = await asyncio.wait_for(anext(stream), 5)
    keep_alive = await asyncio.wait_for(anext(stream), 5)
    open_during = broker.open_event_streams
    stop.set()
    await stream.aclose()

    assert isinstance(first, EventRecord)
    assert first.type == EventType.SERVICE_CREATED
    assert isinstance(second, EventRecord)
    assert second.job_id == job.id
    assert isinstance(keep_alive, KeepAlive)
    assert open_during == 1
    assert broker.open_event_streams == 0


async def test_purge_keeps_window(broker: Broker) -> None:
    service = await make_service(broker)
    await broker.submit_jobs(service.id, [NewJob({}) for _ in range(6)])

    purged = await purge_events(broker)
    stream = broker.feed.follow(1, EventFilter(), stop=asyncio.Event())
    reset = await anext(stream)
    await stream.aclose()

    assert purged == 4
    assert len(await journal(broker)) == 3
    assert isinstance(reset, Reset)
    assert reset.oldest == 5
    assert reset.resume_after == 4
