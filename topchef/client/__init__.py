"""A Python client of the TopChef HTTP API, blocking (``Client``) or asyncio (``AsyncClient``).

    from topchef.client import Client

    with Client("http://127.0.0.1:5000") as topchef:
        job = topchef.submit(service_id, {"value": 1})
        print(topchef.wait(job.id, timeout=60).results)

Both clients return frozen ``Job`` and ``Service`` objects with the fields of
the server's full views, and raise the exceptions drawn in
``topchef.client._errors``, all derived from ``TopChefError``.
"""

from topchef.client._async import AsyncClient
from topchef.client._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchSubmitError,
    ConflictError,
    InvalidSchemaError,
    JobCancelledError,
    JobNotFoundError,
    LeaseLostError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RequestError,
    RequestTimeoutError,
    SchemaViolationError,
    ServerError,
    ServiceNotFoundError,
    TopChefError,
    UnexpectedResponseError,
    Violation,
    WaitTimeoutError,
)
from topchef.client._models import Job, JobStatus, JobSummary, Lease, Service, ServiceSummary
from topchef.client._operations import DEFAULT_URL, MAX_BATCH_JOBS, read_schema
from topchef.client._sync import Client

__all__ = [
    "DEFAULT_URL",
    "MAX_BATCH_JOBS",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchSubmitError",
    "Client",
    "ConflictError",
    "InvalidSchemaError",
    "Job",
    "JobCancelledError",
    "JobNotFoundError",
    "JobStatus",
    "JobSummary",
    "Lease",
    "LeaseLostError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "RequestError",
    "RequestTimeoutError",
    "SchemaViolationError",
    "ServerError",
    "Service",
    "ServiceNotFoundError",
    "ServiceSummary",
    "TopChefError",
    "UnexpectedResponseError",
    "Violation",
    "WaitTimeoutError",
    "read_schema",
]
