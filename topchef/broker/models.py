"""The broker's domain objects: frozen snapshots of a service and a job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

JSON = Any
"""A value that orjson can serialize: dict, list, str, int, float, bool or None."""

DEFAULT_SERVICE_TIMEOUT_SECONDS = 30
DEFAULT_LEASE_SECONDS = 60
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_SECONDS = 1.0
DEFAULT_RETRY_DELAY_MAX_SECONDS = 300.0


class JobStatus(StrEnum):
    REGISTERED = "REGISTERED"
    WORKING = "WORKING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"

    @classmethod
    def parse(cls, text: str) -> JobStatus | None:
        """Return the status named by ``text`` in any letter case, or None if none matches."""
        try:
            return cls(text.upper())
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Service:
    id: UUID
    name: str
    description: str
    job_registration_schema: dict[str, JSON]
    job_result_schema: dict[str, JSON]
    is_available: bool
    timeout: int
    """Seconds after the last check-in at which the service counts as timed out."""
    last_checked_in: datetime
    created_at: datetime
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    """Seconds a claim keeps a job without a heartbeat."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Claims a job gets; after the last one an expired lease or a failure is final."""
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    """Backoff before the first retry; it doubles with each attempt."""
    retry_delay_max_seconds: float = DEFAULT_RETRY_DELAY_MAX_SECONDS
    retention_seconds: int | None = None
    """Finished jobs older than this are purged; None keeps them."""
    timed_out_at: datetime | None = None
    """When the maintenance sweep or an administrator marked the service timed out;
    a check-in clears it."""
    callback_url: str | None = None
    """Receives a webhook POST when one of the service's jobs finishes."""

    def has_timed_out(self, now: datetime) -> bool:
        if self.timed_out_at is not None:
            return True
        return now - self.last_checked_in > timedelta(seconds=self.timeout)


@dataclass(frozen=True, slots=True)
class Job:
    id: UUID
    service_id: UUID
    status: JobStatus
    parameters: JSON
    results: JSON
    """None until a worker stores results."""
    priority: int
    date_submitted: datetime
    date_started: datetime | None
    date_finished: datetime | None
    seq: int
    """Monotonic submission order assigned by the store; breaks FIFO ties."""
    attempt: int = 0
    """How many times the job was claimed."""
    worker: str | None = None
    """The worker that has the job's lease, or had it last."""
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    visible_at: datetime | None = None
    """A REGISTERED job waiting out a retry delay is not claimed before this."""
    cancel_requested: bool = False
    error: str | None = None
    """The reason the job failed or was last requeued."""
    idempotency_key: str | None = None

    @property
    def lease(self) -> Lease | None:
        if self.lease_token is None or self.lease_expires_at is None:
            return None
        return Lease(self.lease_token, self.lease_expires_at, self.worker, self.attempt)


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim's reservation of a job: a request with the token may report on it until expiry."""

    token: str
    expires_at: datetime
    worker: str | None
    attempt: int


@dataclass(frozen=True, slots=True)
class ClaimValues:
    """The values one claim writes onto each job it takes."""

    now: datetime
    limit: int
    worker: str | None
    lease_token: str
    lease_expires_at: datetime
    fifo: bool
    """Take the oldest jobs whatever their priority, instead of priority order."""
