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

    def has_timed_out(self, now: datetime) -> bool:
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
