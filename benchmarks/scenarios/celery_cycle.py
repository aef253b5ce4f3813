"""The job cycle through Celery with Redis, next to TopChef's on each store.

Celery runs with its defaults (prefork pool, prefetch of 4 per process,
acknowledgement on receipt) and 4 worker processes; 16 submitter threads each
call ``add_one.delay(x).get()`` in a loop. Redis, as configured on this
machine, does not fsync every write, while TopChef on SQLite (synchronous=FULL)
and PostgreSQL commits every state change durably.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.results import ScenarioResult, ratio
from benchmarks.scenarios.cycle import SUBMITTERS, WORKERS, job_cycle, record_cycle

REDIS_URL = os.environ.get("TOPCHEF_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_READY_TIMEOUT_SECONDS = 60
RESULT_TIMEOUT_SECONDS = 30


def unavailable_reason() -> str | None:
    """Return why the Celery comparison cannot run here, or None when it can."""
    missing = [name for name in ("celery", "redis") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"{' and '.join(missing)} not installed; install the bench extra: "
                "pip install -e '.[bench]'")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"no Redis server at {REDIS_URL}: {exc}"
    return None


@contextlib.contextmanager
def _celery_worker(queue: str) -> Iterator[Any]:
    """Run a Celery worker with WORKERS processes on ``queue``; yield the add_one task."""
    env = {**servers.child_environment(None), "TOPCHEF_BENCH_CELERY_QUEUE": queue,
           "TOPCHEF_BENCH_REDIS_URL": REDIS_URL}
    command = [sys.executable, "-m", "celery", "-A", "benchmarks.celery_app", "worker",
               "--pool", "prefork", "--concurrency", str(WORKERS), "--loglevel", "WARNING",
               "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--hostname", f"{queue}@%h"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    os.environ["TOPCHEF_BENCH_CELERY_QUEUE"] = queue
    from benchmarks import celery_app

    celery_app.app.conf.task_default_queue = queue
    try:
        # The first result proves the worker consumes the queue.
        celery_app.add_one.delay(0).get(timeout=WORKER_READY_TIMEOUT_SECONDS)
        yield celery_app.add_one
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _delete_queue_keys(queue)


def _delete_queue_keys(queue: str) -> None:
    """Remove what kombu left in Redis for ``queue``; results expire on their own."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def _drive(task: Any, seconds: float) -> list[float]:
    latencies: list[float] = []
    errors: list[BaseException] = []
    deadline = time.monotonic() + seconds

    def submitter(first_x: int) -> None:
        x = first_x
        try:
            while time.monotonic() < deadline:
                started = time.monotonic()
                y = task.delay(x).get(timeout=RESULT_TIMEOUT_SECONDS)
                latencies.append(time.monotonic() - started)
                if y != x + 1:
                    raise RuntimeError(f"add_one({x}) returned {y}")
                x += SUBMITTERS
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(index,)) for index in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return latencies


def _measure_celery(context: RunContext) -> ScenarioResult:
    measured = ScenarioResult("celery", "-")
    seconds = context.seconds(full=15, quick=3)
    queue = f"topchef-bench-{uuid.uuid4().hex[:8]}"
    with _celery_worker(queue) as task:
        context.progress(f"celery: {SUBMITTERS} submitters, {WORKERS} worker processes, "
                         f"{seconds:.0f} s")
        latencies = _drive(task, seconds)
    record_cycle(measured, latencies, seconds)
    return measured


def celery_cycle(context: RunContext, store: str) -> ScenarioResult:
    """Compare Celery's job cycle with TopChef's on ``store``; Celery runs once per run."""
    result = ScenarioResult("celery", store)
    reason = unavailable_reason()
    if reason:
        result.status, result.reason = "skipped", reason
        return result

    if "celery" not in context.shared:
        context.shared["celery"] = _measure_celery(context)
    celery: ScenarioResult = context.shared["celery"]
    topchef = context.find("cycle", store)
    if topchef is None:
        topchef = job_cycle(context, store)
        context.results.append(topchef)

    for name in ("completed_rate", "submit_to_result_p50", "submit_to_result_p99"):
        result.add(f"celery_{name}", celery.value(name), celery.figures[name].unit)
    result.add("completed_ratio",
               ratio(topchef.value("completed_rate"), celery.value("completed_rate")), "ratio")
    result.add("latency_p50_ratio", ratio(topchef.value("submit_to_result_p50"),
                                          celery.value("submit_to_result_p50")), "ratio")
    result.notes.append(f"ratios are TopChef on {store} / Celery+Redis; Celery measured once")
    return result
