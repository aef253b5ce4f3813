"""The job cycle: submitters and four long-polling workers running together."""

from __future__ import annotations

import asyncio
import time

import orjson
import uvloop

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.rawhttp import Connection
from benchmarks.results import ScenarioResult, percentile
from benchmarks.service import create_service, job_parameters
from benchmarks.workers import WorkerSpec, worker_process

SUBMITTERS = 16
WORKERS = 4
RESULT_WAIT_SECONDS = 30


async def _submitter(host: str, port: int, service_id: str, deadline: float,
                     latencies: list[float], first_x: int) -> None:
    """Submit a job, wait for its result, check it, repeat until ``deadline``."""
    connection = await Connection.open(host, port)
    x = first_x
    try:
        while time.monotonic() < deadline:
            started = time.monotonic()
            body = orjson.dumps({"parameters": job_parameters(x)})
            job = await _submit(connection, service_id, body)
            results = await _wait_for_results(connection, job)
            latencies.append(time.monotonic() - started)
            if results != {"y": x + 1}:
                raise RuntimeError(f"job {job} returned {results}, expected y = {x + 1}")
            x += SUBMITTERS
    finally:
        await connection.close()


async def _submit(connection: Connection, service_id: str, body: bytes) -> str:
    status, response = await connection.request("POST", f"/services/{service_id}/jobs", body)
    if status != 201:
        raise RuntimeError(f"submit returned {status}: {response[:300]!r}")
    job_id: str = orjson.loads(response)["data"]["id"]
    return job_id


async def _wait_for_results(connection: Connection, job_id: str) -> object:
    while True:
        path = f"/jobs/{job_id}?wait_seconds={RESULT_WAIT_SECONDS}"
        document = await connection.json("GET", path)
        if document["data"]["status"] == "COMPLETED":
            return document["data"]["results"]


async def _drive_submitters(port: int, service_id: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(
        _submitter(servers.HOST, port, service_id, deadline, latencies, index)
        for index in range(SUBMITTERS)
    ))
    return latencies


def record_cycle(result: ScenarioResult, latencies: list[float], seconds: float) -> None:
    """Add the completed rate and the submit-to-result percentiles to ``result``."""
    result.add("completed_rate", len(latencies) / seconds, "jobs/s")
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    result.add("submit_to_result_p50", None if p50 is None else p50 * 1000, "ms")
    result.add("submit_to_result_p99", None if p99 is None else p99 * 1000, "ms")
    result.add("jobs", len(latencies), "jobs")


def job_cycle(context: RunContext, store: str) -> ScenarioResult:
    """Run 16 submitters, each waiting for its job's result, against 4 long-polling workers."""
    result = ScenarioResult("cycle", store)
    seconds = context.seconds(full=15, quick=3)
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        spec = WorkerSpec(servers.HOST, server.port, service_id, WORKERS, report_claims=False)
        with worker_process(spec):
            context.progress(f"cycle [{store}]: {SUBMITTERS} submitters, {WORKERS} workers, "
                             f"{seconds:.0f} s")
            latencies = uvloop.run(_drive_submitters(server.port, service_id, seconds))
    record_cycle(result, latencies, seconds)
    result.notes.append("submit-to-result: from sending the POST to reading COMPLETED from "
                        "GET /jobs/{id}?wait_seconds")
    return result
