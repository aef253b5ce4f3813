"""Queue depth: claim latency with 1,000, 100,000 and 1,000,000 jobs waiting."""

from __future__ import annotations

import subprocess
import sys
import time

import uvloop

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.rawhttp import Connection
from benchmarks.results import ScenarioResult, percentile, ratio
from benchmarks.service import create_service

FULL_DEPTHS = (1_000, 100_000, 1_000_000)
WARMUP_CLAIMS = 10
"""Claims made and not timed after each fill, so that caches warmed or a WAL
checkpoint due to the fill do not count as claim latency."""
QUICK_DEPTHS = (1_000, 10_000)


async def _claim_latencies(port: int, service_id: str, claims: int) -> list[float]:
    """Claim ``claims`` jobs one after another without waiting; return each latency in ms."""
    connection = await Connection.open(servers.HOST, port)
    latencies = []
    try:
        for _ in range(claims):
            started = time.monotonic()
            status, body = await connection.request(
                "POST", f"/services/{service_id}/jobs/next", b'{"worker": "bench-depth"}'
            )
            latencies.append((time.monotonic() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"claim returned {status}: {body[:300]!r}")
    finally:
        await connection.close()
    return latencies


def _fill(context: RunContext, database_url: str, service_id: str, count: int) -> None:
    command = [sys.executable, "-m", "benchmarks.fill", "--database-url", database_url,
               "--service-id", service_id, "--count", str(count)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               env=servers.child_environment(context.topchef_src),
                               cwd=servers.child_directory(context.topchef_src))
    assert process.stderr is not None  # stderr=PIPE
    for line in process.stderr:
        context.progress(f"queue depth: {line.strip()}")
    if process.wait() != 0:
        raise RuntimeError(f"filling the queue failed with exit status {process.returncode}")


def queue_depth(context: RunContext, store: str) -> ScenarioResult:
    """Fill the queue in steps and measure claim latency at each depth."""
    result = ScenarioResult("queue_depth", store)
    depths = QUICK_DEPTHS if context.quick else FULL_DEPTHS
    claims = 50 if context.quick else 200
    if context.quick:
        result.notes.append(f"quick mode: depths {depths} instead of {FULL_DEPTHS}")

    p50s: list[float | None] = []
    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        queued = 0
        for depth in depths:
            context.progress(f"queue depth [{store}]: filling to {depth:,} jobs")
            _fill(context, url, service_id, depth - queued)
            uvloop.run(_claim_latencies(server.port, service_id, WARMUP_CLAIMS))
            latencies = uvloop.run(_claim_latencies(server.port, service_id, claims))
            queued = depth - claims - WARMUP_CLAIMS
            p50s.append(percentile(latencies, 0.5))
            result.add(f"claim_p50_at_{depth}", p50s[-1], "ms")
            result.add(f"claim_p99_at_{depth}", percentile(latencies, 0.99), "ms")
    result.add("claim_p50_ratio_deep_to_shallow", ratio(p50s[-1], p50s[0]), "ratio")
    return result
