"""Domain errors raised by the broker.

Every error the broker raises derives from ``BrokerError`` and carries one or
more ``Problem`` entries, so a caller can report every violation at once.
The api room maps each class to an HTTP status in one table::

    BrokerError
    ├── NotFound            (404)  ServiceNotFound, JobNotFound
    ├── InvalidInput        (400)  bad field values, invalid schemas
    │   └── SchemaViolation (400)  an instance does not match its schema
    ├── Conflict            (409)  a forbidden status change, a lost lease
    └── Unavailable         (503)  the database cannot be reached or written
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: a short title and a readable detail."""

    title: str
    detail: str


class BrokerError(Exception):
    """Base class of every error the broker raises on purpose."""

    default_title = "Request Failed"

    def __init__(self, *problems: Problem | str) -> None:
        self.problems = [
            p if isinstance(p, Problem) else Problem(self.default_title, p) for p in problems
        ]
        super().__init__("; ".join(p.detail for p in self.problems))


class NotFound(BrokerError):
    default_title = "Not Found"


class ServiceNotFound(NotFound):
    default_title = "Service Not Found"

    def __init__(self, service_id: UUID | str) -> None:
        super().__init__(f"no service with id {service_id} exists")


class JobNotFound(NotFound):
    default_title = "Job Not Found"

    def __init__(self, job_id: UUID | str) -> None:
        super().__init__(f"no job with id {job_id} exists")


class InvalidInput(BrokerError):
    default_title = "Invalid Request"


class SchemaViolation(InvalidInput):
    default_title = "Schema Violation"


class Conflict(BrokerError):
    default_title = "Conflict"


class DuplicateIdempotencyKey(Conflict):
    """Another submission with the same Idempotency-Key committed first."""

    default_title = "Idempotency Key Reused"


class Unavailable(BrokerError):
    """The store cannot serve the request now; retrying later may succeed."""

    default_title = "Service Unavailable"
