"""The requests each client method sends and how it reads the responses, without I/O.

An operation is a generator: it yields the ``Call`` it needs sent, receives
the ``httpx.Response`` (or has the transport's ``RequestError`` thrown into
it), and returns the typed result. ``Client`` drives operations with blocking
sends and ``AsyncClient`` with awaited ones, so both share every rule here and
neither keeps a copy in step by hand.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

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
    SchemaViolationError,
    ServerError,
    ServiceNotFoundError,
    TopChefError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from topchef.client._models import Job, JobStatus, Service, ServiceSummary

T = TypeVar("T")
Operation = Generator["Call", httpx.Response, T]

DEFAULT_URL = "http://127.0.0.1:5000"
DEFAULT_TIMEOUT_SECONDS = 10.0
"""Connect, write and read timeout of one request, except a long poll's read."""
LONG_POLL_MARGIN_SECONDS = 10.0
"""Added to a long poll's wait for its read timeout, so that the server ends the wait."""
WAIT_POLL_SECONDS = 30.0
"""How long one ``GET /jobs/{id}?wait_seconds=`` of ``wait`` holds; it repeats until the end."""
MAX_WAIT_SECONDS = 300.0
"""The longest ``wait_seconds`` the server accepts."""
MAX_BATCH_JOBS = 1000
"""Maximum number of jobs in one ``POST /services/{id}/jobs/batch``."""
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

SchemaSource = Mapping[str, Any] | str | PathLike[str]
"""A JSON Schema as a mapping, or the path of a file that contains it."""

_NO_BODY = object()


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request an operation needs, relative to the client's base URL."""

    method: str
    path: str
    params: Sequence[tuple[str, str]] = ()
    body: Any = _NO_BODY
    headers: Mapping[str, str] = field(default_factory=dict)
    read_timeout: float | None = None
    """Seconds to wait for the response; None keeps the client's timeout."""
    subject: tuple[str, str] | None = None
    """The kind and id of the resource, so a 404 can name it."""


def request_arguments(call: Call, timeout: httpx.Timeout) -> dict[str, Any]:
    """Return the keyword arguments of ``httpx.Client.request`` for ``call``."""
    if call.read_timeout is not None:
        timeout = httpx.Timeout(connect=timeout.connect, read=call.read_timeout,
                                write=timeout.write, pool=timeout.pool)
    arguments: dict[str, Any] = {
        "method": call.method,
        "url": call.path,
        "params": list(call.params),
        "headers": dict(call.headers),
        "timeout": timeout,
    }
    if call.body is not _NO_BODY:
        arguments["json"] = call.body
    return arguments


def _segment(identifier: str) -> str:
    return quote(str(identifier), safe="")


# Reading responses

_ERRORS_BY_TITLE: dict[tuple[int, str], type[APIError]] = {
    (400, "Schema Violation"): SchemaViolationError,
    (400, "Invalid Schema"): InvalidSchemaError,
    (404, "Service Not Found"): ServiceNotFoundError,
    (404, "Job Not Found"): JobNotFoundError,
    (409, "Lease Lost"): LeaseLostError,
    (409, "Job Cancelled"): JobCancelledError,
}
_ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}
_NOT_FOUND_BY_RESOURCE: dict[str, type[NotFoundError]] = {
    "service": ServiceNotFoundError,
    "job": JobNotFoundError,
}
MAX_QUOTED_BODY_CHARS = 200


def _problems(response: httpx.Response) -> list[Problem]:
    try:
        entries = response.json()["errors"]
        return [Problem(str(entry["title"]), str(entry["detail"])) for entry in entries]
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:MAX_QUOTED_BODY_CHARS] or "(empty body)"
        return [Problem(response.reason_phrase or "HTTP Error", text)]


def _error_class(status_code: int, title: str, call: Call) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    if status_code == 404 and title == "Not Found" and call.subject is not None:
        # A path id that is not a UUID gets the generic 404; name the resource anyway.
        return _NOT_FOUND_BY_RESOURCE.get(call.subject[0], NotFoundError)
    found = _ERRORS_BY_TITLE.get((status_code, title))
    if found is not None:
        return found
    return _ERRORS_BY_STATUS.get(status_code, APIError)


def error_from_response(response: httpx.Response, call: Call) -> APIError:
    """Build the exception for an error response to ``call``."""
    problems = _problems(response)
    url = str(response.request.url)
    error_class = _error_class(response.status_code, problems[0].title, call)
    if issubclass(error_class, NotFoundError):
        resource_id = None
        if call.subject is not None and error_class.resource in (call.subject[0],
                                                                 NotFoundError.resource):
            resource_id = call.subject[1]
        return error_class(response.status_code, problems, url=url, resource_id=resource_id)
    return error_class(response.status_code, problems, url=url)


def _checked(response: httpx.Response, call: Call) -> httpx.Response:
    if response.status_code >= 400:
        raise error_from_response(response, call)
    return response


def _data(response: httpx.Response, call: Call) -> Any:
    _checked(response, call)
    try:
        return response.json()["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnexpectedResponseError(
            f"{call.method} {response.request.url} returned {response.status_code} without "
            f"a JSON body with data: {response.text[:MAX_QUOTED_BODY_CHARS]!r}",
            url=str(response.request.url),
        ) from exc


def _parsed(reader: Callable[[Any], T], data: Any, response: httpx.Response) -> T:
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponseError(
            f"{response.request.method} {response.request.url} returned data this client "
            f"cannot read ({type(exc).__name__}: {exc})",
            url=str(response.request.url),
        ) from exc


# Services

def read_schema(source: SchemaSource) -> dict[str, Any]:
    """Return a schema given as a mapping, or read it from the JSON file at that path."""
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the schema file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"the schema file {path} is not valid JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ValueError(f"the schema file {path} must contain a JSON object")
    return schema


def get_service(service_id: str) -> Operation[Service]:
    call = Call("GET", f"/services/{_segment(service_id)}", params=[("view", "full")],
                subject=("service", service_id))
    response = yield call
    return _parsed(Service.from_json, _data(response, call), response)


def list_services() -> Operation[list[ServiceSummary]]:
    call = Call("GET", "/services")
    response = yield call
    return _parsed(lambda data: [ServiceSummary.from_json(item) for item in data],
                   _data(response, call), response)


def create_service(body: Mapping[str, Any]) -> Operation[Service]:
    call = Call("POST", "/services", body=dict(body))
    response = yield call
    service_id = _parsed(lambda data: str(data["id"]), _data(response, call), response)
    return (yield from get_service(service_id))


def update_service(service_id: str, changes: Mapping[str, Any] | None) -> Operation[Service]:
    """PATCH the service, which also checks it in; without changes, send no body."""
    call = Call("PATCH", f"/services/{_segment(service_id)}", params=[("view", "full")],
                body=_NO_BODY if changes is None else dict(changes),
                subject=("service", service_id))
    response = yield call
    return _parsed(Service.from_json, _data(response, call), response)


def delete_service(service_id: str, *, force: bool) -> Operation[None]:
    params = [("force", "true")] if force else []
    call = Call("DELETE", f"/services/{_segment(service_id)}", params=params,
                subject=("service", service_id))
    _checked((yield call), call)


# Jobs

def get_job(job_id: str, *, wait_seconds: float = 0.0) -> Operation[Job]:
    params = [("view", "full")]
    read_timeout = None
    if wait_seconds > 0:
        params.append(("wait_seconds", f"{wait_seconds:.3f}"))
        read_timeout = wait_seconds + LONG_POLL_MARGIN_SECONDS
    call = Call("GET", f"/jobs/{_segment(job_id)}", params=params, read_timeout=read_timeout,
                subject=("job", job_id))
    response = yield call
    return _parsed(Job.from_json, _data(response, call), response)


def wait_for_job(job_id: str, *, timeout: float | None,
                 clock: Callable[[], float] = time.monotonic) -> Operation[Job]:
    """Long-poll the job until it is finished; raise WaitTimeoutError after ``timeout`` s."""
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be 0 or more seconds, got {timeout}")
    deadline = None if timeout is None else clock() + timeout
    while True:
        wait = WAIT_POLL_SECONDS if deadline is None else min(WAIT_POLL_SECONDS,
                                                              max(0.0, deadline - clock()))
        job = yield from get_job(job_id, wait_seconds=wait)
        if job.is_finished:
            return job
        if deadline is not None and clock() >= deadline:
            raise WaitTimeoutError(job, timeout or 0.0)


def submit_job(service_id: str, parameters: Any, *, priority: int,
               idempotency_key: str | None) -> Operation[Job]:
    headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
    call = Call("POST", f"/services/{_segment(service_id)}/jobs",
                body={"parameters": parameters, "priority": priority}, headers=headers,
                subject=("service", service_id))
    response = yield call
    data = _data(response, call)
    if response.headers.get("Idempotent-Replayed") == "true":
        # The job may have moved on since the first submission; read its current state.
        return (yield from get_job(_parsed(lambda found: str(found["id"]), data, response)))
    return _parsed(lambda created: Job.from_new_job(created, service_id=service_id,
                                                    priority=priority), data, response)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _shift_batch_index(error: SchemaViolationError, offset: int) -> SchemaViolationError:
    """Renumber ``jobs/INDEX/...`` in the details from the chunk's index to the caller's."""
    if offset == 0:
        return error
    problems = []
    for problem in error.problems:
        head, _, rest = problem.detail.partition("/")
        index, slash, tail = rest.partition("/")
        if head == "jobs" and index.isdigit() and slash:
            problem = Problem(problem.title, f"jobs/{int(index) + offset}/{tail}")
        problems.append(problem)
    return SchemaViolationError(error.status_code, problems, url=error.url)


def submit_jobs(service_id: str, parameters: Iterable[Any], *, priority: int, chunk_size: int,
                progress: Callable[[int], None] | None) -> Operation[list[Job]]:
    """Submit jobs in batches of ``chunk_size``; call ``progress`` with each batch's size."""
    if not 1 <= chunk_size <= MAX_BATCH_JOBS:
        raise ValueError(f"chunk_size must be from 1 to {MAX_BATCH_JOBS}, got {chunk_size}")
    submitted: list[Job] = []
    for chunk in _chunks(parameters, chunk_size):
        call = Call("POST", f"/services/{_segment(service_id)}/jobs/batch",
                    body={"jobs": [{"parameters": item, "priority": priority} for item in chunk]},
                    subject=("service", service_id))
        try:
            response = yield call
            data = _data(response, call)
        except SchemaViolationError as exc:
            error: TopChefError = _shift_batch_index(exc, len(submitted))
            if not submitted:
                raise error from exc
            raise BatchSubmitError(submitted, len(submitted), error) from error
        except TopChefError as exc:
            if not submitted:
                raise
            raise BatchSubmitError(submitted, len(submitted), exc) from exc
        submitted.extend(_parsed(
            lambda created: [Job.from_new_job(item, service_id=service_id, priority=priority)
                             for item in created],
            data, response))
        if progress is not None:
            progress(len(chunk))
    return submitted


def _status_filter(status: str | JobStatus | Iterable[str | JobStatus] | None) -> list[str]:
    if status is None:
        return []
    names = [status] if isinstance(status, str) else list(status)
    return [",".join(str(name).upper() for name in names)] if names else []


def first_jobs_page(*, service_id: str | None,
                    status: str | JobStatus | Iterable[str | JobStatus] | None,
                    page_size: int) -> Call:
    """Return the request for the first page of a job list."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
    params = [("view", "full"), ("limit", str(page_size))]
    params.extend(("status", value) for value in _status_filter(status))
    subject = None
    if service_id is not None:
        params.append(("service_id", service_id))
        subject = ("service", service_id)
    return Call("GET", "/jobs", params=params, subject=subject)


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    next_call: Call | None
    """The request for the next page, or None on the last page."""


def jobs_page(call: Call) -> Operation[JobPage]:
    """Read one page of jobs and find the next one from ``links.next``."""
    response = yield call
    jobs = _parsed(lambda data: [Job.from_json(item) for item in data], _data(response, call),
                   response)
    next_url = response.json().get("links", {}).get("next")
    if not next_url:
        return JobPage(jobs, None)
    # Keep the path and base URL this client uses, and take the cursor and filters
    # from links.next, so the token never goes to a host the server names.
    next_params = httpx.URL(next_url).params.multi_items()
    return JobPage(jobs, Call(call.method, call.path, params=next_params, subject=call.subject))


def cancel_job(job_id: str) -> Operation[Job]:
    call = Call("POST", f"/jobs/{_segment(job_id)}/cancel", subject=("job", job_id))
    response = yield call
    return _parsed(Job.from_json, _data(response, call), response)


def delete_job(job_id: str) -> Operation[None]:
    call = Call("DELETE", f"/jobs/{_segment(job_id)}", subject=("job", job_id))
    _checked((yield call), call)


# The worker's side: claims and leases

def claim_jobs(service_id: str, *, worker: str | None, lease_seconds: int | None,
               wait_seconds: float, limit: int) -> Operation[list[Job]]:
    body: dict[str, Any] = {"wait_seconds": wait_seconds, "limit": limit}
    if worker is not None:
        body["worker"] = worker
    if lease_seconds is not None:
        body["lease_seconds"] = lease_seconds
    call = Call("POST", f"/services/{_segment(service_id)}/jobs/next", body=body,
                read_timeout=wait_seconds + LONG_POLL_MARGIN_SECONDS,
                subject=("service", service_id))
    response = yield call
    if _checked(response, call).status_code == 204:
        return []
    return _parsed(lambda data: [Job.from_json(item) for item in data], _data(response, call),
                   response)


def heartbeat(job_id: str, *, lease: str, lease_seconds: int | None) -> Operation[Job]:
    body: dict[str, Any] = {"lease": lease}
    if lease_seconds is not None:
        body["lease_seconds"] = lease_seconds
    call = Call("POST", f"/jobs/{_segment(job_id)}/heartbeat", body=body,
                subject=("job", job_id))
    response = yield call
    return _parsed(Job.from_json, _data(response, call), response)


def patch_job(job_id: str, body: Mapping[str, Any]) -> Operation[Job]:
    call = Call("PATCH", f"/jobs/{_segment(job_id)}", params=[("view", "full")],
                body=dict(body), subject=("job", job_id))
    response = yield call
    return _parsed(Job.from_json, _data(response, call), response)


def fail_job(job_id: str, *, error: str, lease: str | None, retry: bool) -> Operation[Job]:
    body: dict[str, Any] = {"error": error, "retry": retry}
    if lease is not None:
        body["lease"] = lease
    call = Call("POST", f"/jobs/{_segment(job_id)}/fail", body=body, subject=("job", job_id))
    response = yield call
    return _parsed(Job.from_json, _data(response, call), response)


# Shared by both shells

SERVICE_SETTINGS = ("timeout", "lease_seconds", "max_attempts", "retry_delay_seconds",
                    "retry_delay_max_seconds", "retention_seconds")
SERVICE_CHANGES = ("name", "description", "is_service_available", *SERVICE_SETTINGS)


def new_service_body(name: str, *, description: str, job_registration_schema: SchemaSource,
                     job_result_schema: SchemaSource,
                     settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the body of ``POST /services``; settings that are None are left to the server."""
    unknown = sorted(set(settings) - set(SERVICE_SETTINGS))
    if unknown:
        raise TypeError(f"unknown service settings {unknown}; use {', '.join(SERVICE_SETTINGS)}")
    return {
        "name": name,
        "description": description,
        "job_registration_schema": read_schema(job_registration_schema),
        "job_result_schema": read_schema(job_result_schema),
        **{key: value for key, value in settings.items() if value is not None},
    }


def service_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check the fields of a service update; ``retention_seconds=None`` keeps jobs for ever."""
    unknown = sorted(set(changes) - set(SERVICE_CHANGES))
    if unknown:
        raise TypeError(f"unknown service fields {unknown}; use {', '.join(SERVICE_CHANGES)}")
    if not changes:
        raise TypeError("no changes given; use check_in to check a service in without changes")
    return dict(changes)


def http_client_options(url: str, token: str | None, timeout: float) -> dict[str, Any]:
    """Return the options both shells give their httpx client: base URL, headers, timeout."""
    base = httpx.URL(url)
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"the TopChef URL must be http:// or https:// with a host, got {url!r}")
    from topchef import __version__

    headers = {"User-Agent": f"topchef-client/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return {"base_url": base, "headers": headers, "timeout": httpx.Timeout(timeout)}


def transport_error_message(exc: httpx.TransportError, base_url: httpx.URL) -> str:
    """Describe a request that got no response, naming the request and the cause."""
    try:
        where = f"{exc.request.method} {exc.request.url}"
    except RuntimeError:  # httpx raised before it built the request
        where = str(base_url)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    cause = str(exc) or type(exc).__name__
    return f"{where} {kind} ({cause}); is the TopChef server at {base_url} running?"
