"""Exceptions the TopChef client raises.

Every exception derives from ``TopChefError``::

    TopChefError
    ├── RequestError               no HTTP response: the server is unreachable or the
    │   │                          connection dropped
    │   └── RequestTimeoutError    the connection or the response took too long
    ├── APIError                   the server responded with an error envelope
    │   ├── BadRequestError        400
    │   │   ├── InvalidSchemaError     a service schema is not a valid JSON Schema
    │   │   └── SchemaViolationError   parameters or results break their schema;
    │   │                              ``violations`` holds every one with its path
    │   ├── AuthenticationError    401: the token is missing or not valid on this server
    │   ├── PermissionDeniedError  403: the token's role does not allow the request
    │   ├── NotFoundError          404, naming the id that was not found
    │   │   ├── ServiceNotFoundError
    │   │   └── JobNotFoundError
    │   ├── ConflictError          409: a forbidden status change, a reused
    │   │   │                      idempotency key, a WORKING job or service
    │   │   ├── LeaseLostError     the lease expired or the job moved on
    │   │   └── JobCancelledError  the job was cancelled while WORKING
    │   └── ServerError            5xx; 503 means the database is unavailable
    ├── UnexpectedResponseError    a success whose body is not what the API documents
    ├── WaitTimeoutError           a job was not finished when the total wait ran out
    │                              (also a ``TimeoutError``)
    └── BatchSubmitError           a chunk of a batch failed after earlier chunks
                                   were stored
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from topchef.client._models import Job


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of an error response: a short title and a detail that names the value."""

    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a value breaks its JSON Schema.

    ``subject`` is what was checked (``parameters``, ``results``, ``object`` or,
    in a batch, ``jobs/INDEX/parameters``), ``path`` a JSON Pointer into it
    (empty for the top level) and ``message`` what is wrong there.
    """

    subject: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"at {self.path}" if self.path else "at the top level"
        return f"{self.subject} {where}: {self.message}"


_VIOLATION = re.compile(
    r"^(?P<subject>\S+) at (?:the top level|(?P<path>/.*?)): (?P<message>.*)$", re.DOTALL
)


def parse_violation(detail: str) -> Violation:
    """Read a Schema Violation detail such as ``parameters at /value: 1 is not ...``."""
    match = _VIOLATION.match(detail)
    if match is None:
        return Violation(subject="", path="", message=detail)
    return Violation(match["subject"], match["path"] or "", match["message"])


class TopChefError(Exception):
    """Base class of every exception the TopChef client raises."""


class RequestError(TopChefError):
    """A request got no HTTP response: the server is unreachable or the connection dropped."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class RequestTimeoutError(RequestError):
    """Connecting, sending or reading the response took longer than the client's timeout."""


class APIError(TopChefError):
    """The server responded with an error status and one or more problems."""

    def __init__(self, status_code: int, problems: Sequence[Problem], *, url: str) -> None:
        self.status_code = status_code
        self.problems = tuple(problems)
        self.url = url
        super().__init__(self._describe())

    @property
    def title(self) -> str:
        return self.problems[0].title if self.problems else ""

    @property
    def detail(self) -> str:
        return "; ".join(problem.detail for problem in self.problems)

    def _describe(self) -> str:
        return f"{self.status_code} {self.title}: {self.detail}"


class BadRequestError(APIError):
    """400: the server rejected the request as invalid."""


class InvalidSchemaError(BadRequestError):
    """400 Invalid Schema: a service schema is not a valid JSON Schema of a supported draft."""


class SchemaViolationError(BadRequestError):
    """400 Schema Violation: job parameters or results break their schema.

    ``violations`` contains every violation the server reported, each with its path.
    """

    def __init__(self, status_code: int, problems: Sequence[Problem], *, url: str) -> None:
        self.violations = tuple(parse_violation(problem.detail) for problem in problems)
        super().__init__(status_code, problems, url=url)

    def _describe(self) -> str:
        count = len(self.violations)
        noun = "violation" if count == 1 else "violations"
        listed = "; ".join(str(violation) for violation in self.violations)
        return f"{count} schema {noun}: {listed}"


class AuthenticationError(APIError):
    """401: the server needs a bearer token and got none, or one it does not accept."""

    def _describe(self) -> str:
        return (f"{super()._describe()}; give the client a valid token: Client(url, "
                "token=...), --token or TOPCHEF_TOKEN")


class PermissionDeniedError(APIError):
    """403: the token is valid, but its role does not allow this request."""

    def _describe(self) -> str:
        return f"{super()._describe()}; use a token with that role"


class NotFoundError(APIError):
    """404: the service or job does not exist (or was deleted, or its id is not a UUID)."""

    resource = "resource"

    def __init__(self, status_code: int, problems: Sequence[Problem], *, url: str,
                 resource_id: str | None = None) -> None:
        self.resource_id = resource_id
        super().__init__(status_code, problems, url=url)

    def _describe(self) -> str:
        if self.resource_id is None:
            return super()._describe()
        return f"{self.resource} {self.resource_id} not found ({self.detail})"


class ServiceNotFoundError(NotFoundError):
    """404 Service Not Found."""

    resource = "service"


class JobNotFoundError(NotFoundError):
    """404 Job Not Found."""

    resource = "job"


class ConflictError(APIError):
    """409: the request conflicts with the job's or service's current state."""


class LeaseLostError(ConflictError):
    """409 Lease Lost: the lease expired or the job was completed, failed or handed over."""


class JobCancelledError(ConflictError):
    """409 Job Cancelled: someone cancelled the WORKING job; it is now ERROR."""


class ServerError(APIError):
    """5xx: the server failed; 503 means its database is unavailable for now."""


class UnexpectedResponseError(TopChefError):
    """A success response whose body is not what the API documents."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class WaitTimeoutError(TopChefError, TimeoutError):
    """The job was not COMPLETED or ERROR when the total wait ran out; ``job`` is its last state."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(
            f"job {job.id} is still {job.status} after waiting {timeout:g} s"
        )
        self.job = job
        self.timeout = timeout


class BatchSubmitError(TopChefError):
    """A chunk of a batch submission failed after earlier chunks were stored.

    ``submitted`` contains the jobs that the earlier chunks created, which stay queued.
    ``error`` (also ``__cause__``) is the failure of the chunk that starts at
    job index ``failed_at``; it and the chunks after it were not stored.
    """

    def __init__(self, submitted: Sequence[Job], failed_at: int, error: TopChefError) -> None:
        super().__init__(
            f"jobs from index {failed_at} on were not submitted ({error}); "
            f"the {len(submitted)} jobs before them were"
        )
        self.submitted = tuple(submitted)
        self.failed_at = failed_at
        self.error = error
