"""A worker: a function from job parameters to results, and the service it works for."""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from topchef.client import DEFAULT_URL, AsyncClient, Job
from topchef.client._operations import SchemaSource

JobFunction = Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]
"""A function that takes a job's parameters and returns its results, blocking or async."""

DEFAULT_LEASE_SECONDS = 60
DEFAULT_CLAIM_WAIT_SECONDS = 10.0
"""How long one claim waits for a job. A stopping worker lets its claim finish,
so this also bounds how long a stop can take when no job is running."""
DEFAULT_GRACE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class JobContext:
    """The job a worker function is running, from ``current_job()``."""

    job: Job
    stop_requested: threading.Event
    """Set when the job's result is no longer wanted: the job was cancelled, its
    lease was lost, or the worker is stopping and its grace period ran out. An
    async function is also cancelled then. A thread cannot be interrupted, so a
    blocking function that runs long should check this event and return early."""


_current_job: ContextVar[JobContext] = ContextVar("topchef_current_job")


def current_job() -> JobContext:
    """Return the job the calling worker function runs; raise LookupError outside one."""
    return _current_job.get()


class Worker:
    """A function that runs the jobs of one service, with what it needs to find the service.

    Give either ``service`` (a name) or ``service_id``. With a name, the worker
    attaches to the one service of that name. If there is none, it creates the
    service from the two schemas (mappings or JSON file paths), ``description``
    and ``service_settings``, which are the settings ``Client.create_service``
    takes (``timeout``, ``lease_seconds``, ``max_attempts`` and so on).

    An exception from the function is reported as a failure, with a request to
    retry when it is an instance of one of ``retry_on``; the service's
    ``max_attempts`` still bounds the retries. ``lease_seconds`` is the lease
    asked for in claims and heartbeats (None takes the service's), and
    ``claim_wait_seconds`` how long one claim waits for a job.

    Calling the worker calls the function, so it stays easy to test.
    """

    def __init__(self, function: JobFunction, *, service: str | None = None,
                 service_id: str | None = None, description: str = "",
                 job_registration_schema: SchemaSource | None = None,
                 job_result_schema: SchemaSource | None = None,
                 service_settings: Mapping[str, Any] | None = None,
                 retry_on: tuple[type[BaseException], ...] = (),
                 lease_seconds: int | None = DEFAULT_LEASE_SECONDS,
                 claim_wait_seconds: float = DEFAULT_CLAIM_WAIT_SECONDS) -> None:
        if (service is None) == (service_id is None):
            raise ValueError("give exactly one of service (a name) and service_id")
        if lease_seconds is not None and lease_seconds < 1:
            raise ValueError(f"lease_seconds must be 1 or more, got {lease_seconds}")
        if not 0 <= claim_wait_seconds <= 300:
            raise ValueError(f"claim_wait_seconds must be from 0 to 300, got {claim_wait_seconds}")
        self.function = function
        self.service = service
        self.service_id = service_id
        self.description = description
        self.job_registration_schema = job_registration_schema
        self.job_result_schema = job_result_schema
        self.service_settings = dict(service_settings or {})
        self.retry_on = retry_on
        self.lease_seconds = lease_seconds
        self.claim_wait_seconds = claim_wait_seconds

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def __call__(self, parameters: Any) -> Any:
        return self.function(parameters)

    def __repr__(self) -> str:
        target = f"service={self.service!r}" if self.service else f"service_id={self.service_id!r}"
        return f"<Worker {getattr(self.function, '__qualname__', self.function)!r} {target}>"

    def attach_to(self, service_id: str) -> None:
        """Take the jobs of the service ``service_id`` in place of the service named ``service``."""
        self.service = None
        self.service_id = service_id

    def run(self, url: str = DEFAULT_URL, *, token: str | None = None, concurrency: int = 1,
            grace_seconds: float = DEFAULT_GRACE_SECONDS, name: str | None = None) -> None:
        """Run jobs until SIGTERM or SIGINT, then stop as ``WorkerRunner.request_stop`` describes.

        ``concurrency`` jobs run at once: in threads for a blocking function,
        in tasks for an async one. ``name`` is the worker name the server
        records with each claim; by default the host name and process id.
        """
        asyncio.run(self.serve(url, token=token, concurrency=concurrency,
                               grace_seconds=grace_seconds, name=name))

    async def serve(self, url: str = DEFAULT_URL, *, token: str | None = None,
                    concurrency: int = 1, grace_seconds: float = DEFAULT_GRACE_SECONDS,
                    name: str | None = None,
                    transport: httpx.AsyncBaseTransport | None = None) -> None:
        """Run jobs until SIGTERM or SIGINT; the async form of ``run``."""
        from topchef.worker._runtime import RunOptions, WorkerRunner, default_worker_name

        options = RunOptions(concurrency=concurrency, grace_seconds=grace_seconds,
                             name=name or default_worker_name())
        async with AsyncClient(url, token, transport=transport) as client:
            runner = WorkerRunner(self, client, options)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, runner.request_stop,
                                        f"received {signal.Signals(signum).name}")
            try:
                await runner.run()
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)


def worker(*, service: str | None = None, service_id: str | None = None,
           description: str = "", job_registration_schema: SchemaSource | None = None,
           job_result_schema: SchemaSource | None = None,
           service_settings: Mapping[str, Any] | None = None,
           retry_on: tuple[type[BaseException], ...] = (),
           lease_seconds: int | None = DEFAULT_LEASE_SECONDS,
           claim_wait_seconds: float = DEFAULT_CLAIM_WAIT_SECONDS,
           ) -> Callable[[JobFunction], Worker]:
    """Turn a function ``parameters -> results`` into a ``Worker``; the arguments are Worker's."""

    def decorate(function: JobFunction) -> Worker:
        return Worker(function, service=service, service_id=service_id, description=description,
                      job_registration_schema=job_registration_schema,
                      job_result_schema=job_result_schema, service_settings=service_settings,
                      retry_on=retry_on, lease_seconds=lease_seconds,
                      claim_wait_seconds=claim_wait_seconds)

    return decorate
