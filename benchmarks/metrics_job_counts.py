"""Time the query behind the ``topchef_jobs`` gauge on a database with many jobs.

Usage, from the repository root (PostgreSQL as in the tests, a fresh schema):

    PYTHONPATH=. .venv/bin/python benchmarks/metrics_job_counts.py 200000

It fills a new SQLite file and a new PostgreSQL schema with that many jobs
over 10 services, then prints the best and the median of 5 counts for each.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import fresh_postgres_schema
from topchef.broker import Broker, NewJob, NewService
from topchef.broker.observer import count_jobs_by_service
from topchef.store import open_sql_store, parse_database_url, upgrade

SERVICES = 10
BATCH_SIZE = 1000
REPEATS = 5


async def fill_and_time(database_url: str, job_count: int) -> str:
    target = parse_database_url(database_url)
    upgrade(target)
    store = open_sql_store(target)
    broker = Broker(store)
    service_ids = [(await broker.create_service(NewService(f"s{index}", "", {}, {}))).id
                   for index in range(SERVICES)]
    for _ in range(0, job_count, BATCH_SIZE):
        jobs = [NewJob({"value": index}) for index in range(BATCH_SIZE)]
        await broker.submit_jobs(random.choice(service_ids), jobs)

    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        counts = await count_jobs_by_service(store)
        seconds.append(time.perf_counter() - started)
    await store.close()
    seconds.sort()
    return (f"{target.kind}: {job_count} jobs, {len(counts)} (service, status) pairs: "
            f"best {seconds[0] * 1000:.1f} ms, median {seconds[REPEATS // 2] * 1000:.1f} ms")


def main() -> None:
    job_count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite:///{Path(directory) / 'topchef.db'}"
        print(asyncio.run(fill_and_time(sqlite_url, job_count)))
    with fresh_postgres_schema() as postgres_url:
        print(asyncio.run(fill_and_time(postgres_url, job_count)))


if __name__ == "__main__":
    main()
