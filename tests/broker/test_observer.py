"""The broker's observer hooks: which job event calls which hook, with which times."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from tests.broker.test_dispatch import START, Clock, FixedRandom, make_service
from topchef.broker import Broker, ClaimRequest, Job, JobPatch, JobStatus, NewJob
from topchef.broker.maintenance import expire_all_leases
from topchef.broker.observer import BrokerObserver
from topchef.store import open_sql_store, parse_database_url, upgrade


class RecordingObserver(BrokerObserver):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def jobs_submitted(self, service_id: UUID, count: int) -> None:
        self.calls.append(("submitted", count))

    def jobs_claimed(self, jobs: Sequence[Job], *, at: datetime) -> None:
        self.calls.extend(("claimed", job.attempt, at) for job in jobs)

    def job_finished(self, job: Job, status: JobStatus, *, at: datetime) -> None:
        self.calls.append(("finished", status, job.date_started, at))

    def job_requeued(self, job: Job) -> None:
        self.calls.append(("requeued",))

    def lease_expired(self, job: Job) -> None:
        self.calls.append(("lease expired",))


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
async def broker(sqlite_url: str, clock: Clock,
                 observer: RecordingObserver) -> AsyncIterator[Broker]:
    target = parse_database_url(sqlite_url)
    upgrade(target)
    store = open_sql_store(target)
    yield Broker(store, clock=clock, rng=FixedRandom(0.99), observer=observer)
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_claim_then_complete(broker: Broker, clock: Clock,
                                   observer: RecordingObserver) -> None:
    service = await make_service(broker)
    job, _created = await broker.submit_job(service.id, NewJob({}))
    clock.advance(2)
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    clock.advance(5)
    assert claimed.lease is not None
    await broker.patch_job(job.id, JobPatch(status=JobStatus.COMPLETED, results={},
                                            lease_token=claimed.lease.token))

    assert observer.calls[0] == ("submitted", 1)
    assert observer.calls[1] == ("claimed", 1, START.replace(second=2))
    assert observer.calls[2] == ("finished", JobStatus.COMPLETED, START.replace(second=2),
                                 START.replace(second=7))
    assert len(observer.calls) == 3


async def test_expiry_requeues_then_fails(broker: Broker, clock: Clock,
                                          observer: RecordingObserver) -> None:
    service = await make_service(broker, lease_seconds=10, max_attempts=2,
                                 retry_delay_seconds=0)
    await broker.submit_job(service.id, NewJob({}))
    await broker.dispatch.claim(service.id, ClaimRequest())
    clock.advance(11)
    await expire_all_leases(broker)
    (second,) = await broker.dispatch.claim(service.id, ClaimRequest())
    clock.advance(11)
    await expire_all_leases(broker)

    names = [call[0] for call in observer.calls]

    assert names == ["submitted", "claimed", "lease expired", "requeued", "claimed",
                     "lease expired", "finished"]
    assert observer.calls[4][1] == 2
    assert observer.calls[-1][1] == JobStatus.ERROR
    assert second.attempt == 2


async def test_failure_report_and_cancel(broker: Broker, observer: RecordingObserver) -> None:
    service = await make_service(broker)
    await broker.submit_jobs(service.id, [NewJob({}), NewJob({})])
    (claimed,) = await broker.dispatch.claim(service.id, ClaimRequest())
    assert claimed.lease is not None
    await broker.dispatch.fail(claimed.id, token=claimed.lease.token, error="boom", retry=True)
    waiting = await broker.list_jobs(service.id, statuses=[JobStatus.REGISTERED], limit=10)
    await broker.dispatch.cancel(waiting.jobs[-1].id)

    names = [call[0] for call in observer.calls]

    assert observer.calls[0] == ("submitted", 2)
    assert names[1:] == ["claimed", "requeued", "finished"]
    assert observer.calls[-1][1] == JobStatus.ERROR
    assert observer.calls[-1][2] is None


async def test_classic_patches_observed(broker: Broker, observer: RecordingObserver) -> None:
    service = await make_service(broker)
    job, _created = await broker.submit_job(service.id, NewJob({}))
    for status in (JobStatus.WORKING, JobStatus.REGISTERED, JobStatus.ERROR):
        await broker.patch_job(job.id, JobPatch(status=status))
    await broker.patch_job(job.id, JobPatch(status=JobStatus.ERROR))

    names = [call[0] for call in observer.calls]

    assert names == ["submitted", "claimed", "requeued", "finished"]
