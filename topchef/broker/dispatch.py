"""Claims, leases, heartbeats, failures, cancellation and lease expiry.

A claim moves jobs from REGISTERED to WORKING under a lease: an opaque token,
an expiry, the worker's name and the attempt number. A request that carries
the token may heartbeat, complete or fail the job until the lease expires.
After that the expiry sweep returns the job to the queue (or to ERROR on its
last attempt), and the old token is refused with a 409.

Priority and fairness: most claims take the highest priority first (FIFO
among equals), but a share of claims (``FIFO_CLAIM_SHARE``) takes the oldest
job whatever its priority. Under a steady stream of high-priority jobs a
low-priority job therefore still moves up one place in every such claim and
is served after about ``position / FIFO_CLAIM_SHARE`` claims.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from topchef.broker.errors import Conflict, JobNotFound, Problem, ServiceNotFound
from topchef.broker.events import RECORDED, Announcer, Event, JobFinished, status_events
from topchef.broker.journal import EventType, job_event, record_events, status_change_type
from topchef.broker.models import ClaimValues, Job, JobStatus, Service
from topchef.broker.observer import NO_OBSERVER, BrokerObserver
from topchef.broker.recheck import QueueCheck

if TYPE_CHECKING:
    from topchef.broker.broker import Clock
    from topchef.broker.notify import Waiter
    from topchef.store.base import Store, StoreSession

log = logging.getLogger(__name__)

FIFO_CLAIM_SHARE = 0.1
WAIT_RECHECK_SECONDS = 5.0
"""A long poll checks the queue at least this often even without a wake-up,
so a wake-up that was lost (or a retry delay that ran out) delays a job but
never strands it. The check is a shared read; only a claimable job leads to
a claim (see ``topchef.broker.recheck``)."""
EXPIRY_BATCH_SIZE = 200
RETRY_JITTER = (0.5, 1.0)
"""Each retry delay is scaled by a random factor in this range, so jobs that
failed together do not all come back at the same moment."""
LEASE_TOKEN_BYTES = 24


class LeaseLost(Conflict):
    default_title = "Lease Lost"


class JobCancelled(Conflict):
    default_title = "Job Cancelled"


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    worker: str | None = None
    lease_seconds: int | None = None
    """How long the lease lasts; None takes the service's ``lease_seconds``."""
    wait_seconds: float = 0.0
    limit: int = 1
    disconnected: asyncio.Event | None = None
    """Set when the claimer disconnected: a waiting claim then ends without taking a job."""


def retry_delay(service: Service, attempt: int, rng: random.Random) -> float:
    """Return seconds to wait before retry number ``attempt`` (1 for the first retry)."""
    base = service.retry_delay_seconds * 2 ** max(attempt - 1, 0)
    delay: float = min(service.retry_delay_max_seconds, base) * rng.uniform(*RETRY_JITTER)
    return delay


class Dispatcher:
    def __init__(
        self, store: Store, events: Announcer, *, clock: Clock, rng: random.Random | None = None,
        observer: BrokerObserver = NO_OBSERVER,
    ) -> None:
        self.store = store
        self.observer = observer
        self.events = events
        self.notifier = events.notifier
        self.draining = asyncio.Event()
        """Set when the server stops, so long polls return at once instead of waiting."""
        self._clock = clock
        self._rng = rng or random.Random()
        self.queue_check = QueueCheck(store, clock=clock)
        """Shared reads that tell an idle long poll whether claiming is worth a write."""

    # Claims

    async def claim(self, service_id: UUID, request: ClaimRequest) -> Sequence[Job]:
        """Claim up to ``request.limit`` jobs, waiting up to ``wait_seconds`` for one to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.wait_seconds

        while True:
            with self.notifier.waiter(service_id) as waiter:
                claimed = await self._claim_once(service_id, request)
                remaining = deadline - loop.time()
                if claimed or remaining <= 0 or self._stopped(request.disconnected):
                    return claimed
                if not await self._wait_for_work(service_id, waiter, deadline, request):
                    return []

    async def _wait_for_work(
        self, service_id: UUID, waiter: Waiter, deadline: float, request: ClaimRequest
    ) -> bool:
        """Wait until a claim may find a job; return False when the poll should end empty.

        Without a wake-up, the queue is rechecked every ``WAIT_RECHECK_SECONDS``
        and at the deadline with a shared read (``QueueCheck``), not a claim, so
        idle polls commit no write transactions.
        """
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - loop.time()
            woken = await waiter.wait(max(0.0, min(remaining, WAIT_RECHECK_SECONDS)),
                                      abort=request.disconnected)
            if self._stopped(request.disconnected):
                return False
            if woken or await self.queue_check.worth_claiming(service_id):
                return True
            if deadline - loop.time() <= 0:
                return False

    def _stopped(self, disconnected: asyncio.Event | None) -> bool:
        return self.draining.is_set() or (disconnected is not None and disconnected.is_set())

    def drain(self) -> None:
        """End every waiting long poll now; the server is stopping."""
        self.draining.set()
        self.notifier.wake_all()

    async def _claim_once(self, service_id: UUID, request: ClaimRequest) -> Sequence[Job]:
        now = self._clock()
        async with self.store.write() as session:
            service = await session.get_service(service_id)
            if service is None:
                raise ServiceNotFound(service_id)
            lease_seconds = request.lease_seconds or service.lease_seconds
            values = ClaimValues(
                now=now,
                limit=request.limit,
                worker=request.worker,
                lease_token=secrets.token_urlsafe(LEASE_TOKEN_BYTES),
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                fifo=self._rng.random() < FIFO_CLAIM_SHARE,
            )
            claimed = await session.claim_jobs(service_id, values)
            if claimed:
                await record_events(session, *(
                    job_event(EventType.JOB_CLAIMED, job, now) for job in claimed))
                await self.events.announce(session, RECORDED)

        if claimed:
            self.events.deliver(RECORDED)
        for job in claimed:
            log.info("job %s of service %s claimed by %s (attempt %d, lease %d s)",
                     job.id, service_id, job.worker or "an unnamed worker", job.attempt,
                     lease_seconds)
        self.observer.jobs_claimed(claimed, at=now)
        return claimed

    # Leases

    async def heartbeat(self, job_id: UUID, token: str, lease_seconds: int | None) -> Job:
        """Extend the job's lease; raise JobCancelled if its cancellation was requested."""
        now = self._clock()
        async with self.store.write() as session:
            job, service = await _locked_job(session, job_id)
            check_lease(job, token, now)
            if job.cancel_requested:
                ended = finish_values(now, JobStatus.ERROR, CANCELLED)
                await session.update_job(job_id, ended)
                await record_events(
                    session, job_event(EventType.JOB_FAILED, _replace(job, **ended), now))
                await self.events.announce(session, JobFinished(job_id))
            else:
                expires = now + timedelta(seconds=lease_seconds or service.lease_seconds)
                await session.update_job(job_id, {"lease_expires_at": expires})
                job = _replace(job, lease_expires_at=expires)

        if job.cancel_requested:
            self._finished(job, JobStatus.ERROR, CANCELLED)
            self.events.deliver(JobFinished(job_id))
            raise JobCancelled(f"job {job_id} was cancelled; stop working on it")
        return job

    async def fail(self, job_id: UUID, *, token: str | None, error: str, retry: bool) -> Job:
        """Record a worker's failure: requeue after a delay if ``retry`` and attempts remain."""
        now = self._clock()
        async with self.store.write() as session:
            job, service = await _locked_job(session, job_id)
            if token is not None:
                check_lease(job, token, now)
            elif job.status != JobStatus.WORKING:
                detail = f"only a WORKING job can fail; job {job_id} is {job.status}"
                raise Conflict(Problem("Status Change Not Allowed", detail))
            changes = self._failure_changes(job, service, now, error=error, retry=retry)
            await session.update_job(job_id, changes)
            events = _outcome(job, changes)
            await self.events.announce(session, *events)
            updated = await session.get_job(job_id)
            assert updated is not None  # locked in the same transaction
            await record_events(
                session, job_event(status_change_type(updated.status), updated, now))

        self._log_outcome(updated, reason=changes["error"])
        self.events.deliver(*events)
        return updated

    def _failure_changes(
        self, job: Job, service: Service, now: datetime, *, error: str, retry: bool
    ) -> dict[str, Any]:
        if job.cancel_requested:
            return finish_values(now, JobStatus.ERROR, CANCELLED)
        if not retry or job.attempt >= service.max_attempts:
            if retry:
                error = f"{error} (no attempts left: {job.attempt} of {service.max_attempts})"
            return finish_values(now, JobStatus.ERROR, error)

        delay = retry_delay(service, job.attempt, self._rng)
        return {
            **_RELEASED,
            "status": JobStatus.REGISTERED,
            "visible_at": now + timedelta(seconds=delay),
            "error": error,
        }

    async def expire_leases(self) -> int:
        """Requeue or fail jobs whose lease expired; return how many were handled."""
        now = self._clock()
        handled: list[tuple[Job, dict[str, Any]]] = []
        async with self.store.write() as session:
            for job in await session.expired_leases(now, EXPIRY_BATCH_SIZE):
                service = await session.get_service(job.service_id)
                if service is None or job.lease_token is None:
                    continue
                reason = (f"the lease of {job.worker or 'an unnamed worker'} expired "
                          f"on attempt {job.attempt} of {service.max_attempts}")
                changes = self._failure_changes(job, service, now, error=reason, retry=True)
                if await session.update_job(job.id, changes, lease_token=job.lease_token):
                    handled.append((job, changes))
                    await self.events.announce(session, *_outcome(job, changes))
                    await record_events(session, job_event(
                        status_change_type(changes["status"]), _replace(job, **changes), now))

        for job, changes in handled:
            self.observer.lease_expired(job)
            if changes["status"] == JobStatus.REGISTERED:
                log.warning("job %s of service %s requeued: %s", job.id, job.service_id,
                            changes["error"])
                self.observer.job_requeued(job)
            else:
                self._finished(job, changes["status"], changes["error"])
            self.events.deliver(*_outcome(job, changes))
        return len(handled)

    # Cancellation

    async def cancel(self, job_id: UUID) -> Job:
        """Cancel a job: a REGISTERED one ends as ERROR now, a WORKING one when its worker hears."""
        now = self._clock()
        async with self.store.write() as session:
            job, _service = await _locked_job(session, job_id)
            if job.status == JobStatus.REGISTERED:
                await session.update_job(job_id, finish_values(now, JobStatus.ERROR, CANCELLED))
                announced: Event = JobFinished(job_id)
            elif job.status == JobStatus.WORKING:
                await session.update_job(job_id, {"cancel_requested": True})
                announced = RECORDED
            else:
                raise Conflict(Problem("Job Already Finished",
                                       f"job {job_id} is {job.status} and cannot be cancelled"))
            updated = await session.get_job(job_id)
            assert updated is not None  # locked in the same transaction
            await record_events(session, job_event(EventType.JOB_CANCELLED, updated, now))
            await self.events.announce(session, announced)

        self.events.deliver(announced)

        if updated.status == JobStatus.ERROR:
            self._finished(updated, JobStatus.ERROR, CANCELLED)
        else:
            log.info("job %s of service %s: cancellation requested while WORKING",
                     job_id, updated.service_id)
        return updated

    # Logs

    def _log_outcome(self, job: Job, *, reason: str) -> None:
        if job.status == JobStatus.REGISTERED:
            log.info("job %s of service %s requeued (%s); claimable again at %s",
                     job.id, job.service_id, reason,
                     job.visible_at.isoformat() if job.visible_at else "once")
            self.observer.job_requeued(job)
        else:
            self._finished(job, job.status, reason)

    def _finished(self, job: Job, status: JobStatus, reason: str) -> None:
        log_level = logging.ERROR if status == JobStatus.ERROR else logging.INFO
        log.log(log_level, "job %s of service %s is %s: %s", job.id, job.service_id, status,
                reason)
        self.observer.job_finished(job, status, at=self._clock())


def _outcome(job: Job, changes: dict[str, Any]) -> list[Event]:
    """Return what waiters must hear after ``changes`` ended or requeued ``job``."""
    return status_events(job.id, job.service_id, changes["status"],
                         at=changes.get("visible_at"))


CANCELLED = "cancelled by request"

_RELEASED = {"lease_token": None, "lease_expires_at": None}


def finish_values(now: datetime, status: JobStatus, error: str) -> dict[str, Any]:
    """Return the column values that end a job in ``status`` with ``error``, lease released."""
    return {**_RELEASED, "status": status, "date_finished": now, "error": error}


def _replace(job: Job, **changes: Any) -> Job:
    return Job(**{**{name: getattr(job, name) for name in Job.__slots__}, **changes})


def check_lease(job: Job, token: str, now: datetime) -> None:
    """Raise LeaseLost unless ``token`` is the job's current, unexpired lease.

    A job that was cancelled raises JobCancelled instead, also when its lease
    ran out before the worker heard of the cancellation, so the worker learns why.
    """
    if job.cancel_requested and job.status == JobStatus.ERROR:
        raise JobCancelled(f"job {job.id} was cancelled; stop working on it")
    if job.lease_token is None and job.status == JobStatus.REGISTERED:
        raise LeaseLost(f"job {job.id} is REGISTERED and held under no lease: it was never "
                        "claimed, or its lease expired and it went back to the queue")
    if job.lease_token is None:
        raise LeaseLost(f"job {job.id} is {job.status} and held under no lease: the lease "
                        "expired, or the job was finished, released or cancelled")
    if job.lease_token != token:
        raise LeaseLost(f"job {job.id} is held under another lease: the token is wrong, or the "
                        "lease expired and the job was claimed again")
    if job.lease_expires_at is not None and job.lease_expires_at <= now:
        raise LeaseLost(f"the lease on job {job.id} expired at {job.lease_expires_at.isoformat()}")


async def _locked_job(session: StoreSession, job_id: UUID) -> tuple[Job, Service]:
    job = await session.get_job(job_id, for_update=True)
    if job is None:
        raise JobNotFound(job_id)
    service = await session.get_service(job.service_id)
    if service is None:
        raise ServiceNotFound(job.service_id)
    return job, service
