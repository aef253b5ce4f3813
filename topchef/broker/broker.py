"""The broker: the rules for services and jobs on top of a store.

Every public method is one unit of work: it validates input, opens one store
transaction and logs what happened to which service or job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from topchef.broker.errors import InvalidInput, JobNotFound, Problem, ServiceNotFound
from topchef.broker.lifecycle import FINISHED, check_transition
from topchef.broker.models import (
    DEFAULT_SERVICE_TIMEOUT_SECONDS,
    JSON,
    Job,
    JobStatus,
    Service,
)
from topchef.broker.schemas import CompiledSchema, SchemaCache

if TYPE_CHECKING:
    from topchef.store.base import Store

log = logging.getLogger(__name__)

QUEUE_PEEK_SIZE = 10
"""How many jobs the classic ``GET /services/{id}/queue`` shows."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewService:
    name: str
    description: str
    job_registration_schema: dict[str, JSON]
    job_result_schema: dict[str, JSON]
    timeout: int = DEFAULT_SERVICE_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class ServiceChanges:
    """Optional changes sent with a check-in; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    is_available: bool | None = None
    timeout: int | None = None


@dataclass(frozen=True, slots=True)
class JobPatch:
    """A requested change to a job; None means "leave as is" for status and results.

    ``read_only`` holds the fields a client echoed back (id, date_submitted,
    parameters); they must match the stored job.
    """

    status: JobStatus | None = None
    results: JSON = None
    read_only: Mapping[str, Any] = field(default_factory=dict)


class Broker:
    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self.store = store
        self._clock = clock
        self._schemas = SchemaCache()

    def now(self) -> datetime:
        return self._clock()

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

        now = self.now()
        service = Service(
            id=uuid4(),
            name=new.name,
            description=new.description,
            job_registration_schema=new.job_registration_schema,
            job_result_schema=new.job_result_schema,
            is_available=True,
            timeout=new.timeout,
            last_checked_in=now,
            created_at=now,
        )
        async with self.store.write() as session:
            await session.insert_service(service)

        log.info("service %s created (name %r)", service.id, service.name)
        return service

    async def get_service(self, service_id: UUID) -> Service:
        async with self.store.read() as session:
            service = await session.get_service(service_id)
        if service is None:
            raise ServiceNotFound(service_id)
        return service

    async def list_services(self) -> Sequence[Service]:
        async with self.store.read() as session:
            return await session.list_services()

    async def check_in(self, service_id: UUID, changes: ServiceChanges) -> Service:
        """Reset the service's timeout clock and apply any ``changes``."""
        values: dict[str, Any] = {
            name: value
            for name in ("name", "description", "is_available", "timeout")
            if (value := getattr(changes, name)) is not None
        }
        values["last_checked_in"] = self.now()

        async with self.store.write() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            await session.update_service(service_id, values)
            service = await session.get_service(service_id)
        assert service is not None  # the row was read in this same transaction

        changed = sorted(set(values) - {"last_checked_in"})
        if changed:
            log.info("service %s checked in and changed %s", service_id, ", ".join(changed))
        else:
            log.debug("service %s checked in", service_id)
        return service

    # Jobs

    def _schema(self, service: Service, role: str) -> CompiledSchema:
        schema = getattr(service, role)
        return self._schemas.get((service.id, role), schema)

    async def submit_job(self, service_id: UUID, parameters: JSON) -> Job:
        """Validate ``parameters`` against the service's registration schema and queue a job."""
        service = await self.get_service(service_id)
        self._schema(service, "job_registration_schema").validate(parameters, subject="parameters")

        job = Job(
            id=uuid4(),
            service_id=service_id,
            status=JobStatus.REGISTERED,
            parameters=parameters,
            results=None,
            priority=0,
            date_submitted=self.now(),
            date_started=None,
            date_finished=None,
            seq=0,
        )
        async with self.store.write() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            job = await session.insert_job(job)

        log.info("job %s created for service %s", job.id, service_id)
        return job

    async def get_job(self, job_id: UUID) -> Job:
        async with self.store.read() as session:
            job = await session.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def list_jobs(self, service_id: UUID | None = None) -> Sequence[Job]:
        async with self.store.read() as session:
            if service_id is not None and await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            return await session.list_jobs(service_id)

    async def peek_queue(self, service_id: UUID, limit: int = QUEUE_PEEK_SIZE) -> Sequence[Job]:
        """Return the next ``limit`` REGISTERED jobs in dispatch order, claiming none."""
        async with self.store.read() as session:
            if await session.get_service(service_id) is None:
                raise ServiceNotFound(service_id)
            return await session.next_jobs(service_id, limit)

    async def patch_job(self, job_id: UUID, patch: JobPatch) -> Job:
        """Change a job's status and/or results under the lifecycle rules."""
        current = await self.get_job(job_id)
        if patch.results is not None:
            service = await self.get_service(current.service_id)
            self._schema(service, "job_result_schema").validate(patch.results, subject="results")

        async with self.store.write() as session:
            job = await session.get_job(job_id, for_update=True)
            if job is None:
                raise JobNotFound(job_id)
            values = self._patch_values(job, patch)
            if values:
                await session.update_job(job_id, values)
                job = await session.get_job(job_id)
        assert job is not None  # the row was locked in this same transaction

        if values:
            log.info("job %s of service %s is now %s", job_id, job.service_id, job.status)
        return job

    def _patch_values(self, job: Job, patch: JobPatch) -> dict[str, Any]:
        _check_read_only_fields(job, patch.read_only)

        target = patch.status or job.status
        changes_results = patch.results is not None and patch.results != job.results
        check_transition(job.status, target, changes_results=changes_results)
        if target == JobStatus.COMPLETED and patch.results is None and job.results is None:
            raise InvalidInput(
                Problem(
                    "Results Required",
                    f"job {job.id} cannot be COMPLETED without results; "
                    "send results that match the service's job_result_schema",
                )
            )

        values: dict[str, Any] = {}
        if changes_results:
            values["results"] = patch.results
        if target != job.status:
            values["status"] = target
            now = self.now()
            if target == JobStatus.WORKING and job.date_started is None:
                values["date_started"] = now
            if target in FINISHED:
                values["date_finished"] = now
            if target == JobStatus.REGISTERED:
                values["date_finished"] = None
        return values

    def validate(self, schema: JSON, instance: JSON) -> None:
        """Check ``schema`` and validate ``instance`` against it, raising on any violation."""
        CompiledSchema(schema, field="schema").validate(instance, subject="object")


def _check_read_only_fields(job: Job, echoed: Mapping[str, Any]) -> None:
    problems = [
        Problem("Read-Only Field Changed", f"{name} cannot be changed: {reason}")
        for name, value in echoed.items()
        if (reason := _read_only_mismatch(job, name, value)) is not None
    ]
    if problems:
        raise InvalidInput(*problems)


TIMESTAMP_TOLERANCE_SECONDS = 0.001
"""Clients such as the Java one keep milliseconds, so a date_submitted sent back
may lose the microseconds; a difference below this is not a change."""


def _read_only_mismatch(job: Job, name: str, value: Any) -> str | None:
    if name == "id":
        if str(value).lower() != str(job.id):
            return f"the job's id is {job.id}, the request sent {value!r}"
        return None

    if name == "parameters":
        if value != job.parameters:
            return "the request sent parameters different from the stored ones"
        return None

    if name == "date_submitted":
        sent = _parse_timestamp(value)
        if sent is None:
            return f"{value!r} is not an ISO 8601 timestamp"
        if abs((sent - job.date_submitted).total_seconds()) >= TIMESTAMP_TOLERANCE_SECONDS:
            return f"the job was submitted at {job.date_submitted.isoformat()}, not {value}"
        return None

    raise ValueError(f"{name!r} is not a read-only job field")


def _parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
