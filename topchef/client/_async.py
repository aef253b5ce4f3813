"""The asyncio client: a thin shell that sends the operations' requests with httpx.AsyncClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

import httpx

from topchef.client import _operations as ops
from topchef.client._errors import RequestError, RequestTimeoutError, TopChefError
from topchef.client._models import Job, JobStatus, Service, ServiceSummary
from topchef.client._operations import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_BATCH_JOBS,
    Call,
    Operation,
    SchemaSource,
)

T = TypeVar("T")


class AsyncClient:
    """An asyncio client of one TopChef server, reusing its connections until ``aclose``.

    ``url`` is the server's base URL, such as ``http://127.0.0.1:5000``. A
    ``token`` is sent as ``Authorization: Bearer TOKEN``. ``timeout`` bounds
    connecting, sending and reading each request in seconds; long polls add
    their wait to the read timeout. ``transport`` replaces the network, for
    example with ``httpx.MockTransport`` in tests. Every method is a coroutine, except that
    ``list_jobs`` is an asynchronous iterator.
    """

    def __init__(self, url: str, token: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        options = ops.http_client_options(url, token, timeout)
        self._http = httpx.AsyncClient(transport=transport, **options)

    @property
    def url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        try:
            return await self._http.request(**ops.request_arguments(call, self._http.timeout))
        except httpx.TimeoutException as exc:
            message = ops.transport_error_message(exc, self._http.base_url)
            raise RequestTimeoutError(message, url=self.url) from exc
        except httpx.TransportError as exc:
            message = ops.transport_error_message(exc, self._http.base_url)
            raise RequestError(message, url=self.url) from exc

    async def _run(self, operation: Operation[T]) -> T:
        try:
            call = next(operation)
            while True:
                try:
                    response = await self._send(call)
                except TopChefError as exc:
                    call = operation.throw(exc)
                else:
                    call = operation.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    # Services

    async def list_services(self) -> list[ServiceSummary]:
        """Return every service's id, name and description, oldest first."""
        return await self._run(ops.list_services())

    async def get_service(self, service_id: str) -> Service:
        return await self._run(ops.get_service(service_id))

    async def create_service(self, name: str, *, job_registration_schema: SchemaSource,
                             job_result_schema: SchemaSource, description: str = "",
                             **settings: Any) -> Service:
        """Register a service and return it.

        Each schema is a mapping or the path of a JSON file. ``settings`` are
        the optional ``timeout``, ``lease_seconds``, ``max_attempts``,
        ``retry_delay_seconds``, ``retry_delay_max_seconds`` and
        ``retention_seconds``; the server's defaults apply to those left out.
        """
        body = ops.new_service_body(name, description=description,
                                    job_registration_schema=job_registration_schema,
                                    job_result_schema=job_result_schema, settings=settings)
        return await self._run(ops.create_service(body))

    async def update_service(self, service_id: str, **changes: Any) -> Service:
        """Change a service's name, description, availability or settings; this checks it in."""
        return await self._run(ops.update_service(service_id, ops.service_changes(changes)))

    async def check_in(self, service_id: str) -> Service:
        """Record that the service's workers are alive, which resets its timeout clock."""
        return await self._run(ops.update_service(service_id, None))

    async def delete_service(self, service_id: str, *, force: bool = False) -> None:
        """Delete a service and all its jobs; ``force`` also while some are WORKING."""
        await self._run(ops.delete_service(service_id, force=force))

    # Jobs

    async def submit(self, service_id: str, parameters: Any, *, priority: int = 0,
                     idempotency_key: str | None = None) -> Job:
        """Submit one job. A repeat with the same ``idempotency_key`` returns the first job."""
        return await self._run(ops.submit_job(service_id, parameters, priority=priority,
                                              idempotency_key=idempotency_key))

    async def submit_many(self, service_id: str, parameters: Iterable[Any], *,
                          priority: int = 0, chunk_size: int = MAX_BATCH_JOBS,
                          progress: Callable[[int], None] | None = None) -> list[Job]:
        """Submit one job per parameters value, in batches of up to ``chunk_size`` (1000).

        Each batch is stored whole or not at all. ``progress`` is called with
        the size of each stored batch. When a batch after the first fails, the
        earlier ones stay queued and BatchSubmitError lists them.
        """
        return await self._run(ops.submit_jobs(service_id, parameters, priority=priority,
                                               chunk_size=chunk_size, progress=progress))

    async def get_job(self, job_id: str) -> Job:
        return await self._run(ops.get_job(job_id))

    async def list_jobs(self, *, service_id: str | None = None,
                        status: str | JobStatus | Iterable[str | JobStatus] | None = None,
                        page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Job]:
        """Yield jobs oldest first, of one service and in some statuses if given.

        Pages of ``page_size`` jobs are read as the iteration reaches them.
        """
        call: Call | None = ops.first_jobs_page(service_id=service_id, status=status,
                                                page_size=page_size)
        while call is not None:
            page = await self._run(ops.jobs_page(call))
            for job in page.jobs:
                yield job
            call = page.next_call

    async def wait(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Return the job once it is COMPLETED or ERROR.

        The server keeps each request open until the job finishes or 30 s pass.
        The requests repeat until ``timeout`` seconds have passed (None waits
        without limit), and then WaitTimeoutError carries the job as it was.
        """
        return await self._run(ops.wait_for_job(job_id, timeout=timeout))

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job: a REGISTERED one becomes ERROR, a WORKING one when its worker hears."""
        return await self._run(ops.cancel_job(job_id))

    async def delete_job(self, job_id: str) -> None:
        """Delete a job that is not WORKING."""
        await self._run(ops.delete_job(job_id))

    # The worker's side

    async def claim(self, service_id: str, *, worker: str | None = None,
                    lease_seconds: int | None = None, wait_seconds: float = 0.0,
                    limit: int = 1) -> list[Job]:
        """Claim up to ``limit`` jobs under a lease, waiting up to ``wait_seconds`` for one.

        Each job's ``lease.token`` must go with its heartbeats and its outcome.
        An empty list means no job arrived during the wait.
        """
        return await self._run(ops.claim_jobs(service_id, worker=worker,
                                              lease_seconds=lease_seconds,
                                              wait_seconds=wait_seconds, limit=limit))

    async def heartbeat(self, job_id: str, lease: str, *,
                        lease_seconds: int | None = None) -> Job:
        """Extend the lease; LeaseLostError or JobCancelledError means: stop the job."""
        return await self._run(ops.heartbeat(job_id, lease=lease, lease_seconds=lease_seconds))

    async def complete(self, job_id: str, results: Any, *, lease: str) -> Job:
        """Mark the job COMPLETED with ``results``, fenced by its lease."""
        return await self._run(ops.patch_job(job_id, {"status": "COMPLETED", "results": results,
                                                      "lease": lease}))

    async def fail(self, job_id: str, error: str, *, lease: str | None = None,
                   retry: bool = False) -> Job:
        """Report a failure; with ``retry`` the job is queued again while attempts remain."""
        return await self._run(ops.fail_job(job_id, error=error, lease=lease, retry=retry))

    async def release(self, job_id: str, *, lease: str) -> Job:
        """Hand a claimed job back to the queue untouched, for another worker to claim."""
        return await self._run(ops.patch_job(job_id, {"status": "REGISTERED", "lease": lease}))
