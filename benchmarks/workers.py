"""Long-polling workers in a process of their own, driven over raw HTTP connections.

Each poll claims with ``POST /services/{id}/jobs/next`` and ``wait_seconds``,
notes when it got the job, and completes it with a PATCH carrying the lease.
The claim times go back to the parent through a queue as (job id, time)
pairs on the shared ``time.monotonic`` clock (CLOCK_MONOTONIC on Linux is the
same in every process).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from benchmarks.rawhttp import Connection

POLL_WAIT_SECONDS = 60
"""Long enough that idle polls cost the server nothing; stopping cancels them anyway."""
STOP_CHECK_SECONDS = 0.05
UNAVAILABLE = "unavailable"
"""Sent to the parent in place of a job id when a claim got 503 (no free database
connection). The poll then retries after UNAVAILABLE_BACKOFF_SECONDS, as a worker would."""
UNAVAILABLE_BACKOFF_SECONDS = (0.1, 0.5)
OPEN_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class WorkerSpec:
    host: str
    port: int
    service_id: str
    polls: int
    report_claims: bool
    """Send every (job id, claim time) to the parent; off for the throughput scenario."""


def _poll_body(name: str) -> bytes:
    return (b'{"worker": "' + name.encode() + b'", "wait_seconds": '
            + str(POLL_WAIT_SECONDS).encode() + b"}")


async def _poll_loop(spec: WorkerSpec, connection: Connection, name: str,
                     claims: Queue[Any]) -> None:
    import orjson

    claim_path = f"/services/{spec.service_id}/jobs/next"
    body = _poll_body(name)
    while True:
        status, response = await connection.request("POST", claim_path, body)
        if status == 204:
            continue
        if status == 503:
            claims.put((UNAVAILABLE, time.monotonic()))
            await asyncio.sleep(random.uniform(*UNAVAILABLE_BACKOFF_SECONDS))
            continue
        if status != 200:
            raise RuntimeError(f"claim returned {status}: {response[:300]!r}")
        claimed_at = time.monotonic()
        job = orjson.loads(response)["data"]
        if spec.report_claims:
            claims.put((job["id"], claimed_at))
        patch = {"status": "COMPLETED", "results": {"y": job["parameters"]["x"] + 1},
                 "lease": job["lease"]["token"]}
        await connection.json("PATCH", f"/jobs/{job['id']}", patch)


async def _run(spec: WorkerSpec, ready: Event, stop: Event, claims: Queue[Any]) -> None:
    opening = [Connection.open(spec.host, spec.port) for _ in range(spec.polls)]
    connections = await asyncio.wait_for(asyncio.gather(*opening), OPEN_TIMEOUT_SECONDS)
    tasks = [asyncio.create_task(_poll_loop(spec, connection, f"bench-worker-{index}", claims))
             for index, connection in enumerate(connections)]
    ready.set()
    try:
        while not stop.is_set():
            failed = [task for task in tasks if task.done()]
            if failed:
                await failed[0]  # raises the worker's error
            await asyncio.sleep(STOP_CHECK_SECONDS)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in connections:
            await connection.close()


def _worker_process(spec: WorkerSpec, ready: Event, stop: Event, claims: Queue[Any]) -> None:
    import uvloop

    uvloop.run(_run(spec, ready, stop, claims))


@dataclass
class WorkerPool:
    """The parent's handle on a running worker process."""

    stop: Event
    claims: Queue[Any]
    unavailable: int = 0
    """Claims that got 503, as far as the parent has read ``claims``."""


@contextlib.contextmanager
def worker_process(spec: WorkerSpec) -> Iterator[WorkerPool]:
    """Run ``spec.polls`` long-polling workers in a child process until the block ends."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    claims: Queue[Any] = context.Queue()
    process = context.Process(target=_worker_process, args=(spec, ready, stop, claims),
                              name="topchef-bench-workers")
    process.start()
    try:
        while not ready.wait(0.2):
            if not process.is_alive():
                raise RuntimeError(f"the worker process exited with {process.exitcode}")
        yield WorkerPool(stop, claims)
    finally:
        stop.set()
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join()
