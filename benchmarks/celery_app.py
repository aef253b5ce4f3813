"""The Celery side of the comparison: one add-one task on a Redis broker and result backend.

The benchmark starts ``celery -A benchmarks.celery_app worker`` itself. The
Redis URL and the queue name come from the environment, so that a run uses a
queue of its own on a Redis server that others may share.
"""

from __future__ import annotations

import os

from celery import Celery

REDIS_URL = os.environ.get("TOPCHEF_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("TOPCHEF_BENCH_CELERY_QUEUE", "topchef-bench")
RESULT_EXPIRES_SECONDS = 600

app = Celery("topchef_bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    result_expires=RESULT_EXPIRES_SECONDS,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="topchef_bench.add_one")  # type: ignore[untyped-decorator]
def add_one(x: int) -> int:
    return x + 1
