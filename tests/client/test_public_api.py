"""The names ``topchef.client`` and ``topchef.worker`` export, listed once and kept in step."""

from __future__ import annotations

import topchef.client
import topchef.worker
from topchef.client import APIError, TopChefError

CLIENT_NAMES = {
    "DEFAULT_URL", "MAX_BATCH_JOBS", "APIError", "AsyncClient", "BadRequestError",
    "BatchSubmitError", "Client", "ConflictError", "InvalidSchemaError", "Job",
    "JobCancelledError", "JobNotFoundError", "JobStatus", "JobSummary", "Lease",
    "LeaseLostError", "NotFoundError", "Problem", "RequestError", "RequestTimeoutError",
    "SchemaViolationError", "ServerError", "Service", "ServiceNotFoundError", "ServiceSummary",
    "TopChefError", "UnexpectedResponseError", "Violation", "WaitTimeoutError", "read_schema",
    "AuthenticationError", "PermissionDeniedError",
}
WORKER_NAMES = {
    "JobContext", "RunOptions", "Worker", "WorkerRunner", "WorkerSetupError", "current_job",
    "failure_report", "worker",
}


def test_client_exports() -> None:
    assert set(topchef.client.__all__) == CLIENT_NAMES
    for name in CLIENT_NAMES:
        assert hasattr(topchef.client, name), name


def test_worker_exports() -> None:
    assert set(topchef.worker.__all__) == WORKER_NAMES
    for name in WORKER_NAMES:
        assert hasattr(topchef.worker, name), name


def test_client_exceptions_share_base() -> None:
    exceptions = [getattr(topchef.client, name) for name in CLIENT_NAMES
                  if name.endswith("Error")]
    for exception in exceptions:
        assert issubclass(exception, TopChefError), exception


def test_exception_tree_drawn_in_docstring() -> None:
    from topchef.client import _errors

    drawn = _errors.__doc__ or ""
    for name in CLIENT_NAMES:
        if name.endswith("Error"):
            assert name in drawn, name
    assert issubclass(topchef.client.SchemaViolationError, APIError)
