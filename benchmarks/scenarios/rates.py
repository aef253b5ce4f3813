"""Request rates: the bare baseline endpoint, single job submission and batch submission."""

from __future__ import annotations

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.loadgen import LoadResult, run_post_load
from benchmarks.results import ScenarioResult, ratio
from benchmarks.service import batch_body, create_service, submit_body

CONNECTIONS = 16
BATCH_SIZE = 100


def _record(result: ScenarioResult, prefix: str, load: LoadResult, *, per_request: int = 1,
            unit: str = "jobs/s") -> None:
    result.add(f"{prefix}rate", load.requests_per_s * per_request, unit)
    result.add(f"{prefix}p50", load.p50_ms, "ms")
    result.add(f"{prefix}p99", load.p99_ms, "ms")
    if load.failed:
        label = prefix.rstrip("_") or result.scenario
        result.notes.append(f"{label}: {load.failed} of {load.requests} requests failed "
                            "(non-2xx responses, socket errors or load generator timeouts)")


def baseline(context: RunContext) -> ScenarioResult:
    """Echo a 200-byte JSON POST on the bare endpoint from 16 connections."""
    result = ScenarioResult("baseline", "-")
    seconds = context.seconds(full=10, quick=2)
    with servers.baseline_server() as server:
        context.progress(f"baseline: {CONNECTIONS} connections for {seconds:.0f} s")
        load = run_post_load(server.url + "/echo", submit_body(), connections=CONNECTIONS,
                             seconds=seconds)
    _record(result, "", load, unit="requests/s")
    return result


def _baseline_rate(context: RunContext) -> float | None:
    found = context.find("baseline", "-")
    if found is None:
        found = baseline(context)
        context.results.append(found)
    return found.value("rate")


def submit(context: RunContext, store: str) -> ScenarioResult:
    """Submit jobs one per request, then 100 per batch request, from 16 connections."""
    result = ScenarioResult("submit", store)
    seconds = context.seconds(full=10, quick=2)
    baseline_rate = _baseline_rate(context)

    with servers.database(store) as url, \
            servers.topchef_server(url, topchef_src=context.topchef_src) as server:
        service_id = create_service(server.url)
        jobs_url = f"{server.url}/services/{service_id}/jobs"
        context.progress(f"submit [{store}]: single jobs, {CONNECTIONS} connections, "
                         f"{seconds:.0f} s")
        single = run_post_load(jobs_url, submit_body(), connections=CONNECTIONS, seconds=seconds)
        context.progress(f"submit [{store}]: batches of {BATCH_SIZE}, {seconds:.0f} s")
        batch = run_post_load(jobs_url + "/batch", batch_body(BATCH_SIZE),
                              connections=CONNECTIONS, seconds=seconds)

    _record(result, "", single)
    result.add("ratio_to_baseline", ratio(single.requests_per_s, baseline_rate), "ratio")
    _record(result, "batch_", batch, per_request=BATCH_SIZE)
    result.add("batch_ratio_to_single",
               ratio(batch.requests_per_s * BATCH_SIZE, single.requests_per_s), "ratio")
    return result
