"""Fill a service's queue with REGISTERED jobs straight into the store's jobs table.

Run as ``python -m benchmarks.fill --database-url URL --service-id ID --count N``
in a process of its own, so it imports the same TopChef code (table
definition, URL parsing) as the server. It inserts with one executemany per
chunk and no RETURNING, which measured 4 to 6 times faster than the store's
``insert_jobs``. The rows are the ones ``Broker.submit_jobs`` would write. It
prints one progress line per 100,000 jobs on standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import sqlalchemy as sa

from topchef.store import parse_database_url
from topchef.store.tables import jobs

CHUNK_JOBS = 10_000
PROGRESS_EVERY_JOBS = 100_000


def _row(service_id: UUID, x: int, now: datetime) -> dict[str, Any]:
    return {"id": uuid4(), "service_id": service_id, "status": "REGISTERED",
            "parameters": {"x": x}, "results": None, "priority": 0, "date_submitted": now,
            "attempt": 0, "cancel_requested": False}


def fill(database_url: str, service_id: UUID, count: int) -> None:
    """Insert ``count`` REGISTERED jobs for ``service_id`` in transactions of CHUNK_JOBS."""
    target = parse_database_url(database_url)
    engine = sa.create_engine(target.sync_url,
                              json_serializer=lambda value: orjson.dumps(value).decode())
    started = time.monotonic()
    inserted = 0
    try:
        while inserted < count:
            size = min(CHUNK_JOBS, count - inserted)
            now = datetime.now(UTC)
            with engine.begin() as connection:
                connection.execute(jobs.insert(), [_row(service_id, inserted + offset, now)
                                                   for offset in range(size)])
            inserted += size
            if inserted % PROGRESS_EVERY_JOBS == 0 or inserted == count:
                rate = inserted / (time.monotonic() - started)
                print(f"filled {inserted:,}/{count:,} jobs ({rate:,.0f} jobs/s)",
                      file=sys.stderr, flush=True)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--service-id", type=UUID, required=True)
    parser.add_argument("--count", type=int, required=True)
    arguments = parser.parse_args()
    fill(arguments.database_url, arguments.service_id, arguments.count)


if __name__ == "__main__":
    main()
