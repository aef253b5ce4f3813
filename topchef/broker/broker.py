"""The broker: the rules for services and jobs on top of a store.

Every public method is one unit of work: it validates input, opens one store
transaction and logs what happened to which service or job.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from topchef.broker import timeouts
from topchef.broker.dispatch import (
    CANCELLED,
    Dispatcher,
    JobCancelled,
    check_lease,
    finish_values,
)
from topchef.broker.errors import (
    Conflict,
    DuplicateIdempotencyKey,
    InvalidInput,
    JobNotFound,
    Problem,
    ServiceNotFound,
)
from topchef.broker.events import (
    RECORDED,
    STREAMS_KEY,
    Announcer,
    Event,
    JobFinished,
    JobsAvailable,
    job_key,
    status_events,
)
from topchef.broker.journal import (
    EventType,
    job_event,
    record_events,
    service_event,
    status_change_type,
)
from topchef.broker.lifecycle import FINISHED
from topchef.broker.models import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_DELAY_MAX_SECONDS,
    DEFAULT_RETRY_DELAY_SECONDS,
    DEFAULT_SERVICE_TIMEOUT_SECONDS,
    JSON,
    Job,
    JobStatus,
    Service,
)
from topchef.broker.notify import Notifier
from topchef.broker.observer import NO_OBSERVER, BrokerObserver, observe_status_change
from topchef.broker.patching import JobPatch, patch_values
from topchef.broker.schemas import CompiledSchema, SchemaCache
from topchef.broker.stream import HORIZON_KEY, EventFeed, StreamSettings
from topchef.broker.webhooks import check_callback_url

if TYPE_CHECKING:
    from topchef.store.base import Store, StoreSession

log = logging.getLogger(__name__)

QUEUE_PEEK_SIZE = 10
"""How many jobs the classic ``GET /services/{id}/queue`` shows."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Optional service settings; None leaves a setting as it is (or at its default)."""

    timeout: int | None = None
    lease_seconds: int | None = None
    max_attempts: int | None = None
    retry_delay_seconds: float | None = None
    retry_delay_max_seconds: float | None = None
    retention_seconds: int | None = None
    clear_retention: bool = False
    """Turn retention off (``retention_seconds: null`` in a request)."""
    callback_url: str | None = None
    """Receives a webhook when one of the service's jobs finishes."""
    clear_callback_url: bool = False
    """Stop the webhooks (``callback_url: null`` in a request)."""

    def changes(self) -> dict[str, Any]:
        values = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not f.name.startswith("clear_") and getattr(self, f.name) is not None
        }
        if self.clear_retention:
            values["retention_seconds"] = None
        if self.clear_callback_url:
            values["callback_url"] = None
        return values


@dataclass(frozen=True, slots=True)
class NewService:
    name: str
    description: str
    job_registration_schema: dict[str, JSON]
    job_result_schema: dict[str, JSON]
    settings: ServiceSettings = ServiceSettings()


@dataclass(frozen=True, slots=True)
class ServiceChanges:
    """Optional changes sent with a check-in; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    is_available: bool | None = None
    settings: ServiceSettings = ServiceSettings()


@dataclass(frozen=True, slots=True)
class NewJob:
    parameters: JSON
    priority: int = 0


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: Sequence[Job]
    next_after_seq: int | None
    """The ``seq`` the next page continues after in the page's order, or None on the last page."""


class Broker:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        stream_settings: StreamSettings | None = None,
        webhook_allow_hosts: frozenset[str] = frozenset(),
        observer: BrokerObserver = NO_OBSERVER,
    ) -> None:
        self.store = store
        self.notifier = Notifier()
        self.events = Announcer(self.notifier)
        self.observer = observer
        self.dispatch = Dispatcher(store, self.events, clock=clock, rng=rng, observer=observer)
        self.feed = EventFeed(store, self.notifier, clock=clock,
                              draining=self.dispatch.draining, settings=stream_settings)
        self.webhook_allow_hosts = webhook_allow_hosts
        """Hosts a ``callback_url`` may name; empty allows none."""
        self._clock = clock
        self._schemas = SchemaCache()

    def now(self) -> datetime:
        return self._clock()

    def open_long_polls(self) -> int:
        """Count the claims and job waits held open now; event streams are not included."""
        streams = self.notifier.waiting(HORIZON_KEY) + self.notifier.waiting(STREAMS_KEY)
        return self.notifier.waiting() - streams

    @property
    def open_event_streams(self) -> int:
        """Event streams (``GET /events``) open in this server process."""
        return self.feed.open_streams

    # Services

    async def create_service(self, new: NewService) -> Service:
        """Check both schemas against their meta-schemas, then store the service."""
        problems: list[Problem] = []
        for role, schema in (
            ("job_registration_schema", new.job_registration_schema),
            ("job_result_schema", new.job_result_schema),
        ):
            try:
                CompiledSchema(schema, field=role)
            except InvalidInput as exc:
                problems.extend(exc.problems)
        if problems:
            raise InvalidInput(*problems)
        self._check_callback_url(new.settings)

        now = self.now()
        settings = {
            "timeout": DEFAULT_SERVICE_TIMEOUT_SECONDS,
            "lease_seconds": DEFAULT_LEASE_SECONDS,
            "max_attempts": DEFAULT_MAX_ATTEMPTS,
            "retry_delay_seconds": DEFAULT_RETRY_DELAY_SECONDS,
            "retry_delay_max_seconds": DEFAULT_RETRY_DELAY_MAX_SECONDS,
            "retention_seconds": None,
            **new.settings.changes(),
        }
        service = Service(
            id=uuid4(),
            name=new.name,
            description=new.description,
            job_registration_schema=new.job_registration_schema,
            job_result_schema=new.job_result_schema,
            is_available=True,
            last_checked_in=now,
            created_at=now,
            **settings,
        )
        async with self.store.write() as session:
            await session.insert_service(service)
            await record_events(session, service_event(EventType.SERVICE_CREATED, service.id, now))
            await self.events.announce(session, RECORDED)

        log.info("service %s created (name %r)", service.id, service.name)
        self.events.deliver(RECORDED)
        return service

    def _check_callback_url(self, settings: ServiceSettings) -> None:
        if settings.callback_url is not None:
            check_callback_url(settings.callback_url, self.webhook_allow_hosts)

    async def get_service(self, service_id: UUID) -> Service:
        async with self.store.read() as session:
            service = await session.get_service(service_id)
        if service is None:
            raise ServiceNotFound(service_id)
        return service

    async def list_services(self) -> Sequence[Service]:
        async with self.store.read() as session:
            return await session.list_services()

    async def service_jobs_summary(
        self, service_id: UUID, *, recent: int
    ) -> tuple[Service, Sequence[Job], Mapping[JobStatus, int]]:
        """Return the service, its newest ``recent`` jobs and its job counts by status."""
        async with self.store.read() as session:
            service = await session.get_service(service_id)
            if service is None:
                raise ServiceNotFound(service_id)
            jobs = await session.recent_jobs(service_id, recent)
            counts = await session.count_jobs(service_id)
        return service, jobs, counts

    async def check_in(self, service_id: UUID, changes: ServiceChanges) -> Service:
        """Reset the service's timeout clock and apply any ``changes``."""
        values: dict[str, Any] = {
            name: value
            for name in ("name", "description", "is_available")
            if (value := getattr(changes, name)) is not None
        }
        self._check_callback_url(changes.settings)
        values.update(changes.settings.changes())
        values["last_checked_in"] = self.now()
        values["timed_out_at"] = None
        changed = sorted(set(values) - {"last_checked_in", "timed_out_at"})
        checked_in = service_event(EventType.SERVICE_CHECKED_IN, service_id,
                                   values["last_checked_in"],
                                   {"changed": changed} if changed else None)

        async with self.store.write() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            await session.update_service(service_id, values)
            service = await session.get_service(service_id)
            await record_events(session, checked_in)
            await self.events.announce(session, RECORDED)
        assert service is not None  # the row was read in this same transaction

        self.events.deliver(RECORDED)
        if changed:
            log.info("service %s checked in and changed %s", service_id, ", ".join(changed))
        else:
            log.debug("service %s checked in", service_id)
        return service

    async def mark_unavailable(self, service_id: UUID) -> Service:
        """Mark the service unavailable and timed out now; see ``timeouts.mark_unavailable``."""
        return await timeouts.mark_unavailable(self, service_id)

    async def delete_service(self, service_id: UUID, *, force: bool) -> None:
        """Delete a service and its jobs; refused while jobs are WORKING unless ``force``."""
        async with self.store.write() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            working = (await session.count_jobs(service_id))[JobStatus.WORKING]
            if working and not force:
                raise Conflict(Problem(
                    "Service Has Working Jobs",
                    f"service {service_id} has WORKING jobs ({working}); wait for them, "
                    "cancel them, or delete with force=true",
                ))
            await session.delete_service(service_id)
            await record_events(session, service_event(EventType.SERVICE_DELETED, service_id,
                                                       self.now()))
            await self.events.announce(session, RECORDED)

        for role in ("job_registration_schema", "job_result_schema"):
            self._schemas.forget((service_id, role))
        log.info("service %s deleted with its jobs (WORKING at the time: %d)", service_id, working)
        self.events.deliver(RECORDED)

    # Jobs

    def _schema(self, service: Service, role: str) -> CompiledSchema:
        schema = getattr(service, role)
        return self._schemas.get((service.id, role), schema)

    async def submit_job(
        self, service_id: UUID, new: NewJob, *, idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Validate and queue a job; return it and whether it was created just now.

        With ``idempotency_key``, a repeated submission returns the job the
        first one created instead of a duplicate.
        """
        cached = self._cached_registration_schema(service_id)
        if cached is not None:
            cached.validate(new.parameters, subject="parameters")
        try:
            async with self.store.write() as session:
                if cached is None:
                    # Read in the write: one transaction, not a read and then a write.
                    service = await _service_in(session, service_id)
                    self._schema(service, "job_registration_schema").validate(
                        new.parameters, subject="parameters"
                    )
                if idempotency_key is not None:
                    existing = await session.find_job_by_key(service_id, idempotency_key)
                    if existing is not None:
                        return _replayed(existing, new), False
                (job,) = await session.insert_jobs(
                    [self._new_job(service_id, new, idempotency_key=idempotency_key)]
                )
                await record_events(
                    session, job_event(EventType.JOB_CREATED, job, job.date_submitted))
                await self.events.announce(session, JobsAvailable(service_id))
        except DuplicateIdempotencyKey:
            # A concurrent submission with the same key committed between our
            # lookup and our insert (PostgreSQL; SQLite serializes writers).
            assert idempotency_key is not None  # only keyed inserts can collide
            async with self.store.read() as session:
                existing = await session.find_job_by_key(service_id, idempotency_key)
            if existing is None:
                raise
            return _replayed(existing, new), False

        log.info("job %s created for service %s (priority %d)", job.id, service_id, job.priority)
        self.observer.jobs_submitted(service_id, 1)
        self.events.deliver(JobsAvailable(service_id))
        return job, True

    async def submit_jobs(self, service_id: UUID, batch: Sequence[NewJob]) -> Sequence[Job]:
        """Queue many jobs in one transaction; if any is invalid, none is stored."""
        cached = self._cached_registration_schema(service_id)
        if cached is not None:
            _check_batch(cached, batch)
        async with self.store.write() as session:
            if cached is None:
                service = await _service_in(session, service_id)
                _check_batch(self._schema(service, "job_registration_schema"), batch)
            created = await session.insert_jobs([self._new_job(service_id, new) for new in batch])
            await record_events(session, *(
                job_event(EventType.JOB_CREATED, job, job.date_submitted) for job in created))
            available = JobsAvailable(service_id, count=len(created))
            await self.events.announce(session, available)

        log.info("%d jobs created for service %s in one batch", len(created), service_id)
        self.observer.jobs_submitted(service_id, len(created))
        self.events.deliver(available)
        return created

    def _cached_registration_schema(self, service_id: UUID) -> CompiledSchema | None:
        """Return the service's compiled registration schema if this process has it.

        Schemas never change after a service is created, so a cached schema is
        exact without reading the service. A service deleted since (by any
        server process) is caught by the jobs' foreign key: the store raises
        ServiceNotFound when it inserts the job.
        """
        return self._schemas.cached((service_id, "job_registration_schema"))

    def _new_job(self, service_id: UUID, new: NewJob, *, idempotency_key: str | None = None) -> Job:
        return Job(
            id=uuid4(),
            service_id=service_id,
            status=JobStatus.REGISTERED,
            parameters=new.parameters,
            results=None,
            priority=new.priority,
            date_submitted=self.now(),
            date_started=None,
            date_finished=None,
            seq=0,
            idempotency_key=idempotency_key,
        )

    async def get_job(self, job_id: UUID) -> Job:
        async with self.store.read() as session:
            job = await session.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def wait_for_job(self, job_id: UUID, wait_seconds: float) -> Job:
        """Return the job once it is COMPLETED or ERROR, or as it is after ``wait_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            with self.notifier.waiter(job_key(job_id)) as waiter:
                job = await self.get_job(job_id)
                remaining = deadline - loop.time()
                if job.status in FINISHED or remaining <= 0 or self.dispatch.draining.is_set():
                    return job
                await waiter.wait(remaining)

    async def list_jobs(
        self,
        service_id: UUID | None = None,
        *,
        statuses: Sequence[JobStatus] = (),
        after_seq: int = 0,
        limit: int,
        newest_first: bool = False,
    ) -> JobPage:
        """Return one page of jobs in submission order, after ``after_seq``.

        With ``newest_first`` the order is reversed, so the page continues with
        the jobs submitted before ``after_seq``.
        """
        async with self.store.read() as session:
            if service_id is not None and await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            jobs = await session.list_jobs(
                service_id, statuses=statuses, after_seq=after_seq, limit=limit + 1,
                newest_first=newest_first,
            )
        if len(jobs) > limit:
            return JobPage(jobs[:limit], jobs[limit - 1].seq)
        return JobPage(jobs, None)

    async def peek_queue(self, service_id: UUID, limit: int = QUEUE_PEEK_SIZE) -> Sequence[Job]:
        """Return the next ``limit`` REGISTERED jobs in priority order, claiming none."""
        async with self.store.read() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            return await session.next_jobs(service_id, limit, self.now())

    async def patch_job(self, job_id: UUID, patch: JobPatch) -> Job:
        """Change a job's status and/or results under the lifecycle rules and its lease."""
        current = await self.get_job(job_id)
        if patch.results is not None:
            service = await self.get_service(current.service_id)
            self._schema(service, "job_result_schema").validate(patch.results, subject="results")

        now = self.now()
        async with self.store.write() as session:
            job = await session.get_job(job_id, for_update=True)
            if job is None:
                raise JobNotFound(job_id)
            previous = job.status
            if patch.lease_token is not None:
                check_lease(job, patch.lease_token, now)
            cancelled_now = job.cancel_requested and job.status == JobStatus.WORKING
            if cancelled_now:
                values = finish_values(now, JobStatus.ERROR, CANCELLED)
            else:
                values = patch_values(job, patch, now)
            events: list[Event] = []
            if values:
                await session.update_job(job_id, values)
                job = await session.get_job(job_id)
                assert job is not None  # the row was locked in this same transaction
                if "status" in values:
                    events = status_events(job.id, job.service_id, job.status,
                                           at=job.visible_at) or [RECORDED]
                    await record_events(
                        session, job_event(status_change_type(job.status), job, now))
                await self.events.announce(session, *events)

        if values:
            log.info("job %s of service %s is now %s", job.id, job.service_id, job.status)
            observe_status_change(self.observer, job, previous, at=now)
            self.events.deliver(*events)
        if cancelled_now:
            raise JobCancelled(f"job {job_id} was cancelled; this change was not applied")
        return job

    async def delete_job(self, job_id: UUID) -> None:
        """Delete a job that is not WORKING; a WORKING job must be cancelled first."""
        async with self.store.write() as session:
            job = await session.get_job(job_id, for_update=True)
            if job is None:
                raise JobNotFound(job_id)
            if job.status == JobStatus.WORKING:
                raise Conflict(Problem(
                    "Job Is Working",
                    f"job {job_id} is WORKING; cancel it with POST /jobs/{job_id}/cancel, "
                    "then delete it once it has stopped",
                ))
            await session.delete_job(job_id)
            await record_events(session, job_event(EventType.JOB_DELETED, job, self.now()))
            await self.events.announce(session, JobFinished(job_id))

        log.info("job %s of service %s deleted (was %s)", job_id, job.service_id, job.status)
        self.events.deliver(JobFinished(job_id))

    def validate(self, schema: JSON, instance: JSON) -> None:
        """Check ``schema`` and validate ``instance`` against it, raising on any violation."""
        CompiledSchema(schema, field="schema").validate(instance, subject="object")


def _check_batch(schema: CompiledSchema, batch: Sequence[NewJob]) -> None:
    problems = [
        Problem("Schema Violation", violation.describe(f"jobs/{index}/parameters"))
        for index, new in enumerate(batch)
        for violation in schema.violations(new.parameters)
    ]
    if problems:
        raise InvalidInput(*problems)


async def _service_in(session: StoreSession, service_id: UUID) -> Service:
    service = await session.get_service(service_id)
    if service is None:
        raise ServiceNotFound(service_id)
    return service


def _replayed(existing: Job, new: NewJob) -> Job:
    if existing.parameters != new.parameters or existing.priority != new.priority:
        raise Conflict(Problem(
            "Idempotency Key Reused",
            f"this Idempotency-Key already created job {existing.id} with other parameters "
            "or priority; use a new key for a new job",
        ))
    return existing
