"""Dispatch gap: how soon a waiting worker holds a job after its submission returns.

Measured with one idle long-polling worker, and again with 1,000 long polls
open at once on one server process (which also shows the server's memory).
"""

from __future__ import annotations

import queue
import time
import urllib.request

import orjson

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.results import ScenarioResult, percentile
from benchmarks.service import create_service, job_parameters
from benchmarks.workers import WorkerPool, WorkerSpec, worker_process

CLAIM_REPORT_TIMEOUT_SECONDS = 10
SETTLE_SECONDS = 0.02
"""Pause between jobs so the worker that completed the last one is polling again."""
OPEN_POLLS = 1000
POLLS_SETTLE_SECONDS = 3
"""Time for the server to read and park every opened poll before memory is measured."""


def _submit(base_url: str, service_id: str, x: int) -> tuple[str, float]:
    """Submit one job; return its id and when its response was read."""
    body = orjson.dumps({"parameters": job_parameters(x)})
    request = urllib.request.Request(f"{base_url}/services/{service_id}/jobs", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        document = response.read()
    answered = time.monotonic()
    job_id: str = orjson.loads(document)["data"]["id"]
    return job_id, answered


def _claim_time(pool: WorkerPool, job_id: str) -> float:
    deadline = time.monotonic() + CLAIM_REPORT_TIMEOUT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        try:
            claimed_id, claimed_at = pool.claims.get(timeout=max(remaining, 0.001))
        except queue.Empty:
            raise RuntimeError(f"no worker claimed job {job_id} within "
                               f"{CLAIM_REPORT_TIMEOUT_SECONDS} s") from None
        if claimed_id == job_id:
            return float(claimed_at)


def measure_gaps(context: RunContext, pool: WorkerPool, base_url: str, service_id: str,
                 count: int, label: str) -> list[float]:
    """Submit ``count`` jobs one at a time; return each submit-response-to-claim gap in ms."""
    gaps: list[float] = []
    for index in range(count):
        job_id, answered = _submit(base_url, service_id, index)
        gaps.append((_claim_time(pool, job_id) - answered) * 1000)
        time.sleep(SETTLE_SECONDS)
        if (index + 1) % 50 == 0:
            context.progress(f"{label}: {index + 1}/{count} jobs dispatched")
    return gaps


def _record_gaps(result: ScenarioResult, gaps: list[float]) -> None:
    result.add("dispatch_gap_p50", percentile(gaps, 0.5), "ms")
    result.add("dispatch_gap_p99", percentile(gaps, 0.99), "ms")
    result.add("dispatch_gap_max", max(gaps) if gaps else None, "ms")
    result.add("jobs", len(gaps), "jobs")


def dispatch_gap(context: RunContext, store: str) -> ScenarioResult:
    """One idle long-polling worker; submit one job at a time and time its dispatch."""
    result = ScenarioResult("dispatch_gap", store)
    count = 50 if context.quick else 200
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        spec = WorkerSpec(servers.HOST, server.port, service_id, polls=1, report_claims=True)
        with worker_process(spec) as pool:
            time.sleep(0.2)
            gaps = measure_gaps(context, pool, server.url, service_id, count,
                                f"dispatch gap [{store}]")
    _record_gaps(result, gaps)
    result.notes.append("gap: from reading the submit response to the worker reading the claim")
    return result


def open_polls(context: RunContext, store: str) -> ScenarioResult:
    """Hold 1,000 long polls open on one server; measure its memory and the dispatch gap."""
    result = ScenarioResult("open_polls", store)
    count = 50 if context.quick else 200
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        idle_rss = server.rss_mib()
        spec = WorkerSpec(servers.HOST, server.port, service_id, polls=OPEN_POLLS,
                          report_claims=True)
        context.progress(f"open polls [{store}]: opening {OPEN_POLLS} long polls")
        with worker_process(spec) as pool:
            time.sleep(POLLS_SETTLE_SECONDS)
            polling_rss = server.rss_mib()
            gaps = measure_gaps(context, pool, server.url, service_id, count,
                                f"open polls [{store}]")
    result.add("polls", OPEN_POLLS, "connections")
    result.add("server_rss_idle", idle_rss, "MiB")
    result.add("server_rss_polling", polling_rss, "MiB")
    result.add("rss_per_poll", (polling_rss - idle_rss) * 1024 / OPEN_POLLS, "KiB")
    _record_gaps(result, gaps)
    return result
