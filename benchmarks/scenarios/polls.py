"""Dispatch gap: how soon a waiting worker has a job after its submission returns.

Measured with one idle long-polling worker, and again with 1,000 long polls
open at once on one server process (which also shows the server's memory).
"""

from __future__ import annotations

import queue
import time
import urllib.request
from dataclasses import dataclass, field

import orjson

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.results import ScenarioResult, percentile
from benchmarks.service import create_service, job_parameters
from benchmarks.workers import UNAVAILABLE, WorkerPool, WorkerSpec, worker_process

CLAIM_REPORT_TIMEOUT_SECONDS = 10
SETTLE_SECONDS = 0.02
"""Pause between jobs so the worker that completed the last one is polling again."""
MEASURE_SECONDS = 60
QUICK_MEASURE_SECONDS = 10
"""A cap on the time spent submitting, reached when submits queue for database
connections (as on PostgreSQL with 1,000 polls open)."""
OPEN_POLLS = 1000
QUICK_OPEN_POLLS = 250
POLLS_SETTLE_SECONDS = 3
"""Time for the server to read and park every opened poll before memory is measured."""
IDLE_CPU_SECONDS = 15
QUICK_IDLE_CPU_SECONDS = 3
"""How long the server's CPU use is measured while the open polls wait for work: three
recheck periods of every poll in full mode."""


def _submit(base_url: str, service_id: str, x: int) -> tuple[str, float, float]:
    """Submit one job; return its id, when its response was read, and the latency in ms."""
    sent = time.monotonic()
    body = orjson.dumps({"parameters": job_parameters(x)})
    request = urllib.request.Request(f"{base_url}/services/{service_id}/jobs", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        document = response.read()
    answered = time.monotonic()
    job_id: str = orjson.loads(document)["data"]["id"]
    return job_id, answered, (answered - sent) * 1000


def drain_unavailable(pool: WorkerPool) -> None:
    """Read the claims reported so far, counting the 503 responses in ``pool.unavailable``."""
    while True:
        try:
            claimed_id, _ = pool.claims.get_nowait()
        except queue.Empty:
            return
        pool.unavailable += claimed_id == UNAVAILABLE


def _claim_time(pool: WorkerPool, job_id: str) -> float:
    deadline = time.monotonic() + CLAIM_REPORT_TIMEOUT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        try:
            claimed_id, claimed_at = pool.claims.get(timeout=max(remaining, 0.001))
        except queue.Empty:
            raise RuntimeError(
                f"no worker claimed job {job_id} within {CLAIM_REPORT_TIMEOUT_SECONDS} s; "
                f"{pool.unavailable} claims so far got 503 (no free database connection)"
            ) from None
        if claimed_id == job_id:
            return float(claimed_at)
        pool.unavailable += claimed_id == UNAVAILABLE


@dataclass
class GapSamples:
    gaps: list[float] = field(default_factory=list)
    """From reading a submit's response to a worker reading the claim response, in ms."""
    submits: list[float] = field(default_factory=list)
    """Latency of each submit request, in ms."""


def measure_gaps(context: RunContext, pool: WorkerPool, base_url: str, service_id: str,
                 *, count: int, label: str) -> GapSamples:
    """Submit up to ``count`` jobs one at a time, for at most MEASURE_SECONDS of this mode."""
    samples = GapSamples()
    deadline = time.monotonic() + context.seconds(full=MEASURE_SECONDS, quick=QUICK_MEASURE_SECONDS)
    for index in range(count):
        job_id, answered, submit_ms = _submit(base_url, service_id, index)
        samples.submits.append(submit_ms)
        samples.gaps.append((_claim_time(pool, job_id) - answered) * 1000)
        time.sleep(SETTLE_SECONDS)
        if (index + 1) % 50 == 0:
            context.progress(f"{label}: {index + 1}/{count} jobs dispatched")
        if time.monotonic() > deadline:
            context.progress(f"{label}: time is up after {index + 1}/{count} jobs")
            break
    return samples


def _record_gaps(result: ScenarioResult, samples: GapSamples) -> None:
    gaps = samples.gaps
    result.add("dispatch_gap_p50", percentile(gaps, 0.5), "ms")
    result.add("dispatch_gap_p99", percentile(gaps, 0.99), "ms")
    result.add("dispatch_gap_max", max(gaps) if gaps else None, "ms")
    result.add("jobs", len(gaps), "jobs")
    result.add("submit_p50", percentile(samples.submits, 0.5), "ms")
    result.add("submit_p99", percentile(samples.submits, 0.99), "ms")


def dispatch_gap(context: RunContext, store: str) -> ScenarioResult:
    """Submit one job at a time to one idle long-polling worker and time its dispatch."""
    result = ScenarioResult("dispatch_gap", store)
    count = 50 if context.quick else 200
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        spec = WorkerSpec(servers.HOST, server.port, service_id, polls=1, report_claims=True)
        with worker_process(spec) as pool:
            time.sleep(0.2)
            samples = measure_gaps(context, pool, server.url, service_id, count=count,
                                   label=f"dispatch gap [{store}]")
    _record_gaps(result, samples)
    result.notes.append("gap: from reading the submit response to the worker reading the claim")
    return result


def _idle_cpu_share(context: RunContext, server: servers.Server) -> float:
    """Return the server's CPU use while the polls wait and no job arrives, in % of a core."""
    seconds = context.seconds(full=IDLE_CPU_SECONDS, quick=QUICK_IDLE_CPU_SECONDS)
    before, started = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (server.cpu_seconds() - before) / (time.monotonic() - started) * 100


def open_polls(context: RunContext, store: str) -> ScenarioResult:
    """Hold 1,000 long polls open on one server; measure its memory and the dispatch gap."""
    result = ScenarioResult("open_polls", store)
    count = 50 if context.quick else 200
    polls = QUICK_OPEN_POLLS if context.quick else OPEN_POLLS
    if context.quick:
        result.notes.append(f"quick mode: {polls} polls open instead of {OPEN_POLLS}")
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        idle_rss = server.rss_mib()
        spec = WorkerSpec(servers.HOST, server.port, service_id, polls=polls,
                          report_claims=True)
        context.progress(f"open polls [{store}]: opening {polls} long polls")
        with worker_process(spec) as pool:
            time.sleep(POLLS_SETTLE_SECONDS)
            polling_rss = server.rss_mib()
            idle_cpu = _idle_cpu_share(context, server)
            drain_unavailable(pool)
            samples = measure_gaps(context, pool, server.url, service_id, count=count,
                                   label=f"open polls [{store}]")
            drain_unavailable(pool)
    result.add("polls", polls, "connections")
    result.add("server_rss_idle", idle_rss, "MiB")
    result.add("server_rss_polling", polling_rss, "MiB")
    result.add("rss_per_poll", (polling_rss - idle_rss) * 1024 / polls, "KiB")
    result.add("server_cpu_polls_idle", idle_cpu, "% of a core")
    _record_gaps(result, samples)
    result.add("claims_503", pool.unavailable, "responses")
    if pool.unavailable:
        result.notes.append("claims_503: polls refused with 503 (no free database connection) "
                            "and retried after a pause")
    return result
