"""The worker loop: claim, run, heartbeat, report, check in, and stop cleanly.

Stopping has two steps. The first stop request ends claiming: a claim that
is waiting is allowed to finish (the server would otherwise hand a job to a
worker that left), and a job it returns is released at once. Running jobs get
the grace period to finish and report. When it runs out, or at a second stop
request, every job still running is released (PATCH back to REGISTERED with
its lease) so that another worker can take it, and the worker exits.

Each event is one log record on the ``topchef.worker`` logger, with a stable
``action`` field and the job and service ids in ``extra``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from topchef.client import (
    AsyncClient,
    BadRequestError,
    Job,
    JobCancelledError,
    JobNotFoundError,
    LeaseLostError,
    RequestError,
    ServerError,
    Service,
    ServiceNotFoundError,
)
from topchef.worker._definition import JobContext, Worker, _current_job
from topchef.worker._reconnect import Backoff, OutageLog

log = logging.getLogger("topchef.worker")

T = TypeVar("T")

HEARTBEATS_PER_LEASE = 3
"""Heartbeats sent per lease period, so that one lost or slow heartbeat does not lose the lease."""
CHECK_INS_PER_TIMEOUT = 3
"""Check-ins sent per service timeout, for the same reason."""
MAX_ERROR_CHARS = 10_000
"""Maximum length of a failure report that the server accepts, in characters."""
TRACEBACK_FRAMES = 8
"""Frames of a traceback kept in a failure report, counted from the one that raised."""
MAX_CLAIM_LIMIT = 100
"""Maximum number of jobs in one claim, as the server allows."""
UNAVAILABLE = (RequestError, ServerError)
"""Errors after which a request is tried again: no response, or the server failed (5xx)."""


class WorkerSetupError(Exception):
    """The worker cannot find or create its service."""


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 1
    grace_seconds: float = 30.0
    name: str = field(default_factory=default_worker_name)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be 1 or more, got {self.concurrency}")
        if self.grace_seconds < 0:
            raise ValueError(f"grace_seconds must be 0 or more, got {self.grace_seconds}")


def failure_report(error: BaseException) -> str:
    """Summarize an exception for ``POST /jobs/{id}/fail``: its last frames and message."""
    lines = traceback.format_exception(error, limit=-TRACEBACK_FRAMES)
    text = "".join(lines).strip()
    if len(text) <= MAX_ERROR_CHARS:
        return text
    # Keep the end, where the exception's type and message are.
    return "..." + text[-(MAX_ERROR_CHARS - 3):]


def _log(level: int, message: str, *args: Any, action: str, job: Job | None = None,
         service_id: str | None = None) -> None:
    extra = {"action": action, "job_id": job.id if job else None,
             "service_id": job.service_id if job else service_id}
    log.log(level, message, *args, extra=extra)


async def finish_despite_cancellation(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to the end even if the caller is cancelled meanwhile, then re-raise.

    A job's final status must reach the server even while the worker is being
    cancelled, or the job would wait for its lease to expire.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


@dataclass(slots=True)
class _Lease:
    """A running job's lease, as this worker tracks it."""

    token: str
    seconds: int
    expires: float
    """Local monotonic time at which the lease runs out, counted from the last extension."""
    lost_reason: str | None = None


def _lease_of(job: Job, lease_seconds: int) -> _Lease:
    if job.lease is None or job.lease.token is None:
        raise ValueError(f"the claim response for job {job.id} has no lease token")
    return _Lease(job.lease.token, lease_seconds, time.monotonic() + lease_seconds)


class WorkerRunner:
    """Run one worker's jobs against one server until stopped. ``run`` does the work."""

    def __init__(self, worker: Worker, client: AsyncClient, options: RunOptions) -> None:
        self._worker = worker
        self._client = client
        self._options = options
        self._outage = OutageLog(client.url)
        self._stopping = asyncio.Event()
        self._aborting = asyncio.Event()
        self._grace_deadline: float | None = None
        self._busy = 0
        """Jobs whose function is still running, abandoned ones included."""
        self._slot_freed = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    # Stopping

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop claiming, and give running jobs the grace period; a second call ends it now.

        ``reason`` starts the log line, as in ``received SIGTERM``.
        """
        if self._stopping.is_set():
            _log(logging.WARNING, "%s again: releasing running jobs now", reason,
                 action="worker_aborting")
            self._aborting.set()
            return
        self._grace_deadline = time.monotonic() + self._options.grace_seconds
        _log(logging.INFO, "%s: no more claims; running jobs get %g s to finish",
             reason, self._options.grace_seconds, action="worker_stopping")
        self._stopping.set()
        self._slot_freed.set()

    def _grace_left(self) -> float:
        if self._grace_deadline is None:
            return self._options.grace_seconds
        return max(0.0, self._grace_deadline - time.monotonic())

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # The main loop

    async def run(self) -> None:
        """Find the service, claim and run jobs until stopped, then drain and return."""
        service = await self._resolve_service()
        if service is None:
            _log(logging.INFO, "worker %s stopped before it reached the server",
                 self._options.name, action="worker_stopped")
            return

        lease_seconds = self._worker.lease_seconds or service.lease_seconds
        _log(logging.INFO, "worker %s runs jobs of service %s (%s) from %s, %d at a time",
             self._options.name, service.name, service.id, self._client.url,
             self._options.concurrency, action="worker_started", service_id=service.id)
        check_ins = asyncio.create_task(self._check_in_forever(service))
        try:
            await self._claim_until_stopped(service, lease_seconds)
        finally:
            await finish_despite_cancellation(self._drain())
            check_ins.cancel()
            await asyncio.gather(check_ins, return_exceptions=True)
        _log(logging.INFO, "worker %s stopped", self._options.name, action="worker_stopped",
             service_id=service.id)

    async def _resolve_service(self) -> Service | None:
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                service = await self._find_or_create_service()
            except UNAVAILABLE as exc:
                self._outage.failed(exc)
                await self._sleep_unless_stopping(backoff.next_delay())
                continue
            self._outage.succeeded()
            return service
        return None

    async def _find_or_create_service(self) -> Service:
        worker = self._worker
        if worker.service_id is not None:
            return await self._client.get_service(worker.service_id)

        matches = [s for s in await self._client.list_services() if s.name == worker.service]
        if len(matches) > 1:
            ids = ", ".join(match.id for match in matches)
            raise WorkerSetupError(f"{len(matches)} services are named {worker.service!r} "
                                   f"({ids}); give the worker a service_id, or run it "
                                   "with --service-id")
        if matches:
            service = await self._client.get_service(matches[0].id)
            _log(logging.INFO, "attached to service %s (%s)", service.name, service.id,
                 action="service_attached", service_id=service.id)
            return service

        if worker.job_registration_schema is None or worker.job_result_schema is None:
            raise WorkerSetupError(f"no service is named {worker.service!r}, and the worker "
                                   "cannot create it without job_registration_schema and "
                                   "job_result_schema")
        # NOTE: two workers that start at once may both find no service and create
        # two of the same name; the server has no unique names. Start one first.
        service = await self._client.create_service(
            worker.service or "", description=worker.description,
            job_registration_schema=worker.job_registration_schema,
            job_result_schema=worker.job_result_schema, **worker.service_settings)
        _log(logging.INFO, "created service %s (%s)", service.name, service.id,
             action="service_created", service_id=service.id)
        return service

    async def _check_in_forever(self, service: Service) -> None:
        interval = max(1.0, service.timeout / CHECK_INS_PER_TIMEOUT)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._client.check_in(service.id)
            except UNAVAILABLE as exc:
                self._outage.failed(exc)
                continue
            except ServiceNotFoundError:
                _log(logging.ERROR, "service %s was deleted; stopping", service.id,
                     action="service_deleted", service_id=service.id)
                self.request_stop("service deleted")
                return
            self._outage.succeeded()

    # Claims

    async def _free_slots(self) -> int:
        """Wait until a slot is free or the worker stops; return the number of free slots."""
        while self._busy >= self._options.concurrency and not self._stopping.is_set():
            self._slot_freed.clear()
            await self._slot_freed.wait()
        return max(0, self._options.concurrency - self._busy)

    async def _claim_until_stopped(self, service: Service, lease_seconds: int) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            free = await self._free_slots()
            if self._stopping.is_set():
                return
            claim = asyncio.create_task(self._client.claim(
                service.id, worker=self._options.name, lease_seconds=lease_seconds,
                wait_seconds=self._worker.claim_wait_seconds,
                limit=min(free, MAX_CLAIM_LIMIT)))
            jobs = await self._finish_claim(claim)
            if jobs is None:
                return
            if isinstance(jobs, BaseException):
                await self._handle_claim_error(jobs, service, backoff)
                continue

            self._outage.succeeded()
            backoff.reset()
            if self._stopping.is_set():
                for job in jobs:
                    await self._release_unstarted(job, lease_seconds)
                return
            for job in jobs:
                self._start(job, lease_seconds)

    async def _finish_claim(self, claim: asyncio.Task[list[Job]]
                            ) -> list[Job] | BaseException | None:
        """Return the claimed jobs or the claim's error; None if it was abandoned at a stop."""
        stop = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({claim, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not claim.done():
            # Let the long poll end: a job the server claims after this worker left
            # would only come back when its lease expires, one attempt later.
            _log(logging.INFO, "waiting up to %g s for the open claim to end",
                 self._worker.claim_wait_seconds, action="claim_draining")
            abort = asyncio.create_task(self._aborting.wait())
            await asyncio.wait({claim, abort}, timeout=self._grace_left(),
                               return_when=asyncio.FIRST_COMPLETED)
            abort.cancel()
            if not claim.done():
                claim.cancel()
                await asyncio.gather(claim, return_exceptions=True)
                _log(logging.WARNING, "abandoned a waiting claim; a job the server hands to "
                     "it returns to the queue when its lease expires", action="claim_abandoned")
                return None
        return claim.exception() or claim.result()

    async def _handle_claim_error(self, error: BaseException, service: Service,
                                  backoff: Backoff) -> None:
        if isinstance(error, UNAVAILABLE):
            self._outage.failed(error)
            await self._sleep_unless_stopping(backoff.next_delay())
            return
        if isinstance(error, ServiceNotFoundError):
            _log(logging.ERROR, "service %s was deleted; stopping", service.id,
                 action="service_deleted", service_id=service.id)
            self.request_stop("service deleted")
            return
        raise error

    async def _release_unstarted(self, job: Job, lease_seconds: int) -> None:
        await self._release(job, _lease_of(job, lease_seconds))

    # Running a job

    def _start(self, job: Job, lease_seconds: int) -> None:
        lease = _lease_of(job, lease_seconds)
        self._busy += 1
        handler = asyncio.create_task(self._handle(job, lease), name=f"topchef-job-{job.id}")
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        _log(logging.INFO, "claimed job %s (attempt %d)", job.id, job.attempt,
             action="job_claimed", job=job)

    def _slot_done(self) -> None:
        self._busy -= 1
        self._slot_freed.set()

    def _execute(self, job: Job, context: JobContext) -> asyncio.Future[Any]:
        """Start the function on the job's parameters: a task if async, else a daemon thread.

        The slot stays taken until the function returns, also when its result is
        no longer wanted, so that no more than ``concurrency`` functions run.
        """
        copied = contextvars.copy_context()
        copied.run(_current_job.set, context)
        if not self._worker.is_async:
            return _run_in_daemon_thread(self._worker.function, job.parameters, copied,
                                         name=f"topchef-job-{job.id}", on_return=self._slot_done)
        coroutine = self._worker.function(job.parameters)
        task = asyncio.get_running_loop().create_task(coroutine,  # type: ignore[arg-type]
                                                      context=copied)
        task.add_done_callback(lambda _: self._slot_done())
        return task

    async def _handle(self, job: Job, lease: _Lease) -> None:
        context = JobContext(job, threading.Event())
        execution = self._execute(job, context)
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job, lease, lost))
        try:
            ended = await _first(execution, lost, self._aborting)
            if ended is execution:
                await finish_despite_cancellation(self._report(job, lease, execution))
                return
            context.stop_requested.set()
            execution.cancel()
            if ended is lost:
                self._log_lost(job, lease)
            else:
                await finish_despite_cancellation(self._release(job, lease))
        except asyncio.CancelledError:
            context.stop_requested.set()
            execution.cancel()
            await finish_despite_cancellation(self._release(job, lease))
            raise
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_lease(self, job: Job, lease: _Lease, lost: asyncio.Event) -> None:
        """Extend the lease every third of it; set ``lost`` when the server refuses to."""
        while True:
            await asyncio.sleep(lease.seconds / HEARTBEATS_PER_LEASE)
            sent = time.monotonic()
            try:
                await self._client.heartbeat(job.id, lease.token, lease_seconds=lease.seconds)
            except UNAVAILABLE as exc:
                self._outage.failed(exc)
                continue
            except JobCancelledError:
                lease.lost_reason = "cancelled"
            except LeaseLostError:
                lease.lost_reason = "lease lost"
            except JobNotFoundError:
                lease.lost_reason = "deleted"
            else:
                self._outage.succeeded()
                lease.expires = sent + lease.seconds
                continue
            lost.set()
            return

    def _log_lost(self, job: Job, lease: _Lease) -> None:
        if lease.lost_reason == "cancelled":
            _log(logging.INFO, "job %s was cancelled; stopped working on it", job.id,
                 action="job_cancelled", job=job)
        elif lease.lost_reason == "deleted":
            _log(logging.WARNING, "job %s was deleted while it ran; stopped working on it",
                 job.id, action="job_deleted", job=job)
        else:
            _log(logging.WARNING, "lost the lease of job %s; stopped working on it and "
                 "dropped its results", job.id, action="lease_lost", job=job)

    # Reporting

    async def _report(self, job: Job, lease: _Lease, execution: asyncio.Future[Any]) -> None:
        error = None if execution.cancelled() else execution.exception()
        if execution.cancelled():
            error = asyncio.CancelledError("the job function was cancelled")
        if error is None:
            await self._complete(job, lease, execution.result())
            return
        await self._fail(job, lease, failure_report(error),
                         retry=isinstance(error, self._worker.retry_on))

    async def _complete(self, job: Job, lease: _Lease, results: Any) -> None:
        try:
            done = await self._send_while_leased(
                job, lease, "complete", lambda: self._client.complete(job.id, results,
                                                                      lease=lease.token))
        except (BadRequestError, TypeError, ValueError) as exc:
            # The server rejected the results, or they are not JSON: sending them
            # again cannot help, so the job fails for good.
            await self._fail(job, lease, f"the worker's results were rejected: {exc}",
                             retry=False)
            return
        if done is not None:
            _log(logging.INFO, "completed job %s", job.id, action="job_completed", job=job)

    async def _fail(self, job: Job, lease: _Lease, error: str, *, retry: bool) -> None:
        done = await self._send_while_leased(
            job, lease, "fail",
            lambda: self._client.fail(job.id, error, lease=lease.token, retry=retry))
        if done is None:
            return
        last_line = error.strip().splitlines()[-1] if error.strip() else error
        if done.is_finished:
            _log(logging.ERROR, "job %s failed: %s", job.id, last_line, action="job_failed",
                 job=job)
        else:
            _log(logging.WARNING, "job %s failed and goes back to the queue: %s", job.id,
                 last_line, action="job_retry", job=job)

    async def _release(self, job: Job, lease: _Lease) -> None:
        done = await self._send_while_leased(
            job, lease, "release", lambda: self._client.release(job.id, lease=lease.token))
        if done is not None:
            _log(logging.INFO, "released job %s unfinished, for another worker", job.id,
                 action="job_released", job=job)

    async def _send_while_leased(self, job: Job, lease: _Lease, what: str,
                                 send: Callable[[], Awaitable[Job]]) -> Job | None:
        """Send a job's outcome, retrying while the server is unreachable and the lease lasts.

        Return the job as the server stored it, or None if the job is no longer
        this worker's: the lease was lost, the job was cancelled or deleted, or
        the lease ran out before the server responded.
        """
        backoff = Backoff()
        while True:
            try:
                sent = await send()
            except UNAVAILABLE as exc:
                self._outage.failed(exc)
                delay = backoff.next_delay()
                if time.monotonic() + delay >= lease.expires:
                    _log(logging.WARNING, "could not %s job %s before its lease ran out; the "
                         "server puts it back in the queue", what, job.id,
                         action="report_abandoned", job=job)
                    return None
                await asyncio.sleep(delay)
                continue
            except JobCancelledError:
                lease.lost_reason = "cancelled"
            except LeaseLostError:
                lease.lost_reason = "lease lost"
            except JobNotFoundError:
                lease.lost_reason = "deleted"
            else:
                self._outage.succeeded()
                return sent
            self._log_lost(job, lease)
            return None

    async def _drain(self) -> None:
        """Give running jobs the rest of the grace period, then release those still running."""
        if self._grace_deadline is None:  # the claim loop ended without a stop request
            self._grace_deadline = time.monotonic() + self._options.grace_seconds
            self._stopping.set()
        handlers = {handler for handler in self._handlers if not handler.done()}
        if not handlers:
            return

        _log(logging.INFO, "waiting up to %.1f s for %d running jobs", self._grace_left(),
             len(handlers), action="worker_draining")
        abort = asyncio.create_task(self._aborting.wait())
        pending = handlers
        while pending and not self._aborting.is_set() and self._grace_left() > 0:
            await asyncio.wait(pending | {abort}, timeout=self._grace_left(),
                               return_when=asyncio.FIRST_COMPLETED)
            pending = {handler for handler in pending if not handler.done()}
        abort.cancel()

        self._aborting.set()  # the handlers still running release their jobs
        await asyncio.gather(*handlers, return_exceptions=True)


async def _first(execution: asyncio.Future[Any], *events: asyncio.Event) -> object:
    """Wait until the execution ends or one of the events is set; return which came first."""
    waiters = {asyncio.ensure_future(event.wait()): event for event in events}
    try:
        await asyncio.wait({execution, *waiters}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if execution.done():
        return execution
    return next(event for event in events if event.is_set())


def _run_in_daemon_thread(function: Callable[[Any], Any], parameters: Any,
                          context: contextvars.Context, *, name: str,
                          on_return: Callable[[], None]) -> asyncio.Future[Any]:
    """Run ``function(parameters)`` in a new daemon thread and return a future of its result.

    ``on_return`` runs on the event loop once the function returns, even if the
    future was cancelled before. A daemon thread does not keep the process
    alive, so a stopping worker can exit after it released a job whose
    function is still running.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        on_return()
        if future.cancelled():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def target() -> None:
        try:
            result, error = context.run(function, parameters), None
        except BaseException as exc:  # reported to the server as the job's failure
            result, error = None, exc
        # A closed event loop means that the worker has exited and released the job.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future
