"""Services and jobs as the client returns them: frozen snapshots of the server's full views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    REGISTERED = "REGISTERED"
    WORKING = "WORKING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"

    @property
    def is_finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.ERROR)


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected a timestamp string, got {value!r}")
    return datetime.fromisoformat(value)


def _optional_timestamp(value: Any) -> datetime | None:
    return None if value is None else _timestamp(value)


@dataclass(frozen=True, slots=True)
class Lease:
    """A claimed job's reservation. ``token`` is set only in claim and heartbeat responses."""

    expires_at: datetime
    worker: str | None
    attempt: int
    token: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lease:
        return cls(
            expires_at=_timestamp(data["expires_at"]),
            worker=data.get("worker"),
            attempt=int(data["attempt"]),
            token=data.get("token"),
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A job in the server's full view, as it was when the response was sent."""

    id: str
    status: JobStatus
    parameters: Any
    results: Any
    """None until a worker stores results."""
    date_submitted: datetime
    service_id: str
    priority: int
    attempt: int
    """How many times the job was claimed."""
    worker: str | None
    lease: Lease | None
    date_started: datetime | None
    date_finished: datetime | None
    visible_at: datetime | None
    """The end of the retry delay of a requeued job; no claim takes it before then."""
    cancel_requested: bool
    error: str | None
    """The reason the job failed or was last put back in the queue."""

    @property
    def is_finished(self) -> bool:
        """True once the job is COMPLETED or ERROR."""
        return self.status.is_finished

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        """Read a job in the full view (``?view=full``)."""
        lease = data.get("lease")
        return cls(
            id=str(data["id"]),
            status=JobStatus(data["status"]),
            parameters=data["parameters"],
            results=data["results"],
            date_submitted=_timestamp(data["date_submitted"]),
            service_id=str(data["service_id"]),
            priority=int(data["priority"]),
            attempt=int(data["attempt"]),
            worker=data.get("worker"),
            lease=None if lease is None else Lease.from_json(lease),
            date_started=_optional_timestamp(data.get("date_started")),
            date_finished=_optional_timestamp(data.get("date_finished")),
            visible_at=_optional_timestamp(data.get("visible_at")),
            cancel_requested=bool(data.get("cancel_requested", False)),
            error=data.get("error"),
        )

    @classmethod
    def from_new_job(cls, data: Mapping[str, Any], *, service_id: str, priority: int) -> Job:
        """Read a job from a submission response, which has the classic fields only.

        The response shows the job as it was created, so the other fields have
        the values every new job starts with.
        """
        return cls(
            id=str(data["id"]),
            status=JobStatus(data["status"]),
            parameters=data["parameters"],
            results=data["results"],
            date_submitted=_timestamp(data["date_submitted"]),
            service_id=service_id,
            priority=priority,
            attempt=0,
            worker=None,
            lease=None,
            date_started=None,
            date_finished=None,
            visible_at=None,
            cancel_requested=False,
            error=None,
        )


@dataclass(frozen=True, slots=True)
class JobSummary:
    """A job in a service's list of newest jobs: its id, status and submission time."""

    id: str
    status: JobStatus
    date_submitted: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSummary:
        return cls(str(data["id"]), JobStatus(data["status"]), _timestamp(data["date_submitted"]))


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """A service as ``GET /services`` lists it."""

    id: str
    name: str
    description: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceSummary:
        return cls(str(data["id"]), str(data["name"]), str(data["description"]))


@dataclass(frozen=True, slots=True)
class Service:
    """A service in the server's full view, with its settings and job counts."""

    id: str
    name: str
    description: str
    job_registration_schema: Mapping[str, Any]
    job_result_schema: Mapping[str, Any]
    is_service_available: bool
    has_timed_out: bool
    timeout: int
    """Seconds the service may go without a check-in."""
    jobs: tuple[JobSummary, ...]
    """The service's newest jobs (at most 100), oldest first."""
    lease_seconds: int
    max_attempts: int
    retry_delay_seconds: float
    retry_delay_max_seconds: float
    retention_seconds: int | None
    last_checked_in: datetime
    date_created: datetime
    job_counts: Mapping[str, int]
    """The number of the service's jobs in each status."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Service:
        """Read a service in the full view (``?view=full``)."""
        retention = data.get("retention_seconds")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            description=str(data["description"]),
            job_registration_schema=data["job_registration_schema"],
            job_result_schema=data["job_result_schema"],
            is_service_available=bool(data["is_service_available"]),
            has_timed_out=bool(data["has_timed_out"]),
            timeout=int(data["timeout"]),
            jobs=tuple(JobSummary.from_json(job) for job in data["jobs"]),
            lease_seconds=int(data["lease_seconds"]),
            max_attempts=int(data["max_attempts"]),
            retry_delay_seconds=float(data["retry_delay_seconds"]),
            retry_delay_max_seconds=float(data["retry_delay_max_seconds"]),
            retention_seconds=None if retention is None else int(retention),
            last_checked_in=_timestamp(data["last_checked_in"]),
            date_created=_timestamp(data["date_created"]),
            job_counts={str(k): int(v) for k, v in data["job_counts"].items()},
        )
