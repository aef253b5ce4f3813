from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from topchef.broker import (
    Broker,
    ClaimRequest,
    Conflict,
    JobCancelled,
    JobPatch,
    JobStatus,
    LeaseLost,
    NewJob,
    NewService,
    Service,
    ServiceSettings,
)
from topchef.broker.dispatch import RETRY_JITTER, retry_delay
from topchef.broker.maintenance import expire_all_leases, purge_finished_jobs
from topchef.store import open_sql_store, parse_database_url, upgrade

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FixedRandom(random.Random):
    """random() returns ``value``; uniform() returns its upper bound."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def broker(database_url: str, clock: Clock) -> AsyncIterator[Broker]:
    target = parse_database_url(database_url)
    upgrade(target)
    store = open_sql_store(target)
    yield Broker(store, clock=clock, rng=FixedRandom(0.99))
    await store.close()


async def make_service(broker: Broker, **settings: Any) -> Service:
    return await broker.create_service(NewService(
        name="svc", description="", job_registration_schema={}, job_result_schema={},
        settings=ServiceSettings(**settings),
    ))


async def test_claim_takes_job_under_lease(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=30)
    job, _ = await broker.submit_job(service.id, NewJob({"n": 1}))

    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))
    again = await broker.dispatch.claim(service.id, ClaimRequest(worker="w2"))

    assert claimed.id == job.id
    assert claimed.status == JobStatus.WORKING
    assert claimed.attempt == 1
    assert claimed.lease is not None
    assert claimed.lease.worker == "w1"
    assert claimed.lease.expires_at == clock.now + timedelta(seconds=30)
    assert again == []


async def test_expired_lease_requeues_with_backoff(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10, retry_delay_seconds=4)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))

    clock.advance(11)
    handled = await expire_all_leases(broker)
    requeued = await broker.get_job(claimed.id)

    assert handled == 1
    assert requeued.status == JobStatus.REGISTERED
    assert requeued.lease is None
    assert requeued.visible_at == clock.now + timedelta(seconds=4 * RETRY_JITTER[1])
    assert requeued.error is not None
    assert "expired on attempt 1 of 3" in requeued.error


async def test_retry_not_visible_before_delay(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10, retry_delay_seconds=4)
    await broker.submit_job(service.id, NewJob({}))
    await broker.dispatch.claim(service.id, ClaimRequest())
    clock.advance(11)
    await expire_all_leases(broker)

    clock.advance(3.9)
    early = await broker.dispatch.claim(service.id, ClaimRequest())
    clock.advance(0.2)
    (late,) = await broker.dispatch.claim(service.id, ClaimRequest())

    assert early == []
    assert late.attempt == 2


async def test_last_attempt_expiry_is_error(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10, max_attempts=1)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))

    clock.advance(10)
    await expire_all_leases(broker)
    failed = await broker.get_job(claimed.id)

    assert failed.status == JobStatus.ERROR
    assert failed.date_finished == clock.now
    assert failed.error is not None
    assert "expired on attempt 1 of 1" in failed.error


async def test_stale_lease_patch_refused(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10, retry_delay_seconds=0)
    await broker.submit_job(service.id, NewJob({}))
    (first,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w1"))
    clock.advance(11)
    await expire_all_leases(broker)
    (second,) = await broker.dispatch.claim(service.id, ClaimRequest(worker="w2"))
    assert first.lease_token is not None

    with pytest.raises(LeaseLost):
        await broker.patch_job(first.id, JobPatch(status=JobStatus.COMPLETED, results={},
                                                  lease_token=first.lease_token))
    with pytest.raises(LeaseLost):
        await broker.dispatch.heartbeat(first.id, first.lease_token, None)

    assert (await broker.get_job(first.id)).lease_token == second.lease_token


async def test_heartbeat_extends_lease(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    assert claimed.lease_token is not None

    clock.advance(8)
    beat = await broker.dispatch.heartbeat(claimed.id, claimed.lease_token, 20)
    clock.advance(15)
    handled = await expire_all_leases(broker)

    assert beat.lease_expires_at == START + timedelta(seconds=28)
    assert handled == 0


async def test_fail_with_retry_then_final(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, max_attempts=2, retry_delay_seconds=0)
    await broker.submit_job(service.id, NewJob({}))
    (first,) = await broker.dispatch.claim(service.id, ClaimRequest())

    retried = await broker.dispatch.fail(first.id, token=first.lease_token, error="boom",
                                         retry=True)
    (second,) = await broker.dispatch.claim(service.id, ClaimRequest())
    final = await broker.dispatch.fail(second.id, token=second.lease_token, error="boom again",
                                       retry=True)

    assert retried.status == JobStatus.REGISTERED
    assert final.status == JobStatus.ERROR
    assert final.error == "boom again (no attempts left: 2 of 2)"


async def test_cancel_working_job_stops_worker(broker: Broker) -> None:
    service = await make_service(broker)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    assert claimed.lease_token is not None

    requested = await broker.dispatch.cancel(claimed.id)
    with pytest.raises(JobCancelled):
        await broker.dispatch.heartbeat(claimed.id, claimed.lease_token, None)
    ended = await broker.get_job(claimed.id)

    assert requested.status == JobStatus.WORKING
    assert requested.cancel_requested
    assert ended.status == JobStatus.ERROR
    assert ended.error == "cancelled by request"


async def test_cancel_registered_job_leaves_queue(broker: Broker) -> None:
    service = await make_service(broker)
    job, _ = await broker.submit_job(service.id, NewJob({}))

    cancelled = await broker.dispatch.cancel(job.id)
    claimed = await broker.dispatch.claim(service.id, ClaimRequest())

    assert cancelled.status == JobStatus.ERROR
    assert claimed == []
    with pytest.raises(Conflict):
        await broker.dispatch.cancel(job.id)


async def test_priority_first_then_fifo(broker: Broker) -> None:
    service = await make_service(broker)
    low, _ = await broker.submit_job(service.id, NewJob({}, priority=0))
    high, _ = await broker.submit_job(service.id, NewJob({}, priority=9))
    low_later, _ = await broker.submit_job(service.id, NewJob({}, priority=0))

    claimed = await broker.dispatch.claim(service.id, ClaimRequest(limit=3))

    assert [job.id for job in claimed] == [high.id, low.id, low_later.id]


async def test_fifo_share_serves_oldest(database_url: str, clock: Clock) -> None:
    target = parse_database_url(database_url)
    upgrade(target)
    store = open_sql_store(target)
    broker = Broker(store, clock=clock, rng=FixedRandom(0.0))
    try:
        service = await make_service(broker)
        low, _ = await broker.submit_job(service.id, NewJob({}, priority=0))
        await broker.submit_job(service.id, NewJob({}, priority=9))

        (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    finally:
        await store.close()

    assert claimed.id == low.id


async def test_idempotent_submit_returns_first(broker: Broker) -> None:
    service = await make_service(broker)

    first, created = await broker.submit_job(service.id, NewJob({"a": 1}), idempotency_key="k")
    again, created_again = await broker.submit_job(service.id, NewJob({"a": 1}),
                                                   idempotency_key="k")

    assert created
    assert not created_again
    assert again.id == first.id
    with pytest.raises(Conflict):
        await broker.submit_job(service.id, NewJob({"a": 2}), idempotency_key="k")


async def test_purge_removes_old_finished_jobs(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, retention_seconds=60)
    kept, _ = await broker.submit_job(service.id, NewJob({}))
    done = []
    for _ in range(3):
        job, _ = await broker.submit_job(service.id, NewJob({}))
        done.append(await broker.patch_job(job.id, JobPatch(status=JobStatus.ERROR)))

    clock.advance(61)
    purged = await purge_finished_jobs(broker)
    page = await broker.list_jobs(service.id, limit=10)

    assert purged == 3
    assert [job.id for job in page.jobs] == [kept.id]


def test_retry_delay_doubles_and_caps() -> None:
    service = Service(
        id=START and __import__("uuid").uuid4(), name="s", description="",
        job_registration_schema={}, job_result_schema={}, is_available=True, timeout=30,
        last_checked_in=START, created_at=START, retry_delay_seconds=1,
        retry_delay_max_seconds=5,
    )
    rng = FixedRandom(0.5)

    delays = [retry_delay(service, attempt, rng) for attempt in range(1, 6)]

    assert delays == [1, 2, 4, 5, 5]


async def test_cancelled_job_expired_lease_says_cancelled(broker: Broker, clock: Clock) -> None:
    service = await make_service(broker, lease_seconds=10)
    await broker.submit_job(service.id, NewJob({}))
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    assert claimed.lease_token is not None
    await broker.dispatch.cancel(claimed.id)

    clock.advance(11)
    await expire_all_leases(broker)

    with pytest.raises(JobCancelled):
        await broker.dispatch.heartbeat(claimed.id, claimed.lease_token, None)
    assert (await broker.get_job(claimed.id)).error == "cancelled by request"
