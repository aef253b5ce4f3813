"""Retention against server processes of its own: finished jobs are purged after the period.

The server purges when it starts and then every --purge-interval-seconds. One
test restarts the server to see a purge within seconds, and one runs a server
with a one-second purge interval. A purge sends no event, so both tests poll
for the jobs to disappear, with a deadline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import start_server
from tests.e2e.dispatching import (
    claim_job,
    complete,
    create_service_with,
    parse_timestamp,
    read_full_job,
    submit,
)

pytestmark = pytest.mark.e2e

RETENTION_SECONDS = 1
RETENTION_MARGIN_SECONDS = 0.5
PURGE_SWEEP_SECONDS = 1
"""How often the running server of the periodic-purge test purges."""
STARTUP_PURGE_WAIT_SECONDS = 10
PERIODIC_PURGE_WAIT_SECONDS = PURGE_SWEEP_SECONDS + 15
POLL_INTERVAL_SECONDS = 0.5


def finish_job(http: httpx.Client, service_id: str, value: int) -> str:
    """Submit a job, claim it and complete it; return its id."""
    job_id = submit(http, service_id, value)
    job = claim_job(http, service_id)
    assert job["id"] == job_id
    response = complete(http, job)
    assert response.status_code == 200, response.text
    return job_id


def cancel_job(http: httpx.Client, service_id: str, value: int) -> str:
    """Submit a job and cancel it, so it ends as ERROR without running; return its id."""
    job_id = submit(http, service_id, value)
    response = http.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    return job_id


def wait_until_gone(http: httpx.Client, job_ids: list[str], seconds: float) -> list[str]:
    """Poll until every job is 404 or ``seconds`` have passed; return the ids still there."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = [job_id for job_id in job_ids if http.get(f"/jobs/{job_id}").status_code != 404]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(POLL_INTERVAL_SECONDS)


def test_retention_purges_on_restart(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'retention.db'}"
    first = start_server(database_url, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            retained = create_service_with(http, retention_seconds=RETENTION_SECONDS)
            unretained = create_service_with(http)
            purged_ids = [finish_job(http, retained, 1), cancel_job(http, retained, 2)]
            waiting_id = submit(http, retained, 3)
            unretained_id = finish_job(http, unretained, 4)
            last_finished = max(parse_timestamp(read_full_job(http, job_id)["date_finished"])
                                for job_id in purged_ids)
    finally:
        first.stop()

    # The retention period itself is under test: the finished jobs must be older
    # than it when the next server starts and purges.
    expired_at = last_finished + timedelta(seconds=RETENTION_SECONDS + RETENTION_MARGIN_SECONDS)
    time.sleep(max(0.0, (expired_at - datetime.now(UTC)).total_seconds()))

    second = start_server(database_url, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=second.url, timeout=10) as http:
            still_there = wait_until_gone(http, purged_ids, STARTUP_PURGE_WAIT_SECONDS)
            waiting = http.get(f"/jobs/{waiting_id}")
            unretained_job = http.get(f"/jobs/{unretained_id}")
    finally:
        second.stop()

    assert still_there == []
    assert waiting.status_code == 200, waiting.text
    assert unretained_job.status_code == 200, unretained_job.text
    assert f"service {retained}: purged finished jobs" in second.log()
    assert "(count 2, retention 1 s)" in second.log()


def test_retention_purges_running_server(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'retention.db'}", tmp_path / "server.log",
                          "--purge-interval-seconds", str(PURGE_SWEEP_SECONDS))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            retained = create_service_with(http, retention_seconds=RETENTION_SECONDS)
            finished_id = finish_job(http, retained, 1)
            waiting_id = submit(http, retained, 2)

            started = time.monotonic()
            still_there = wait_until_gone(http, [finished_id], PERIODIC_PURGE_WAIT_SECONDS)
            elapsed = time.monotonic() - started
            waiting = http.get(f"/jobs/{waiting_id}")
    finally:
        server.stop()

    print(f"\nretention: the finished job was purged {elapsed:.1f} s after it completed")
    assert still_there == []
    assert waiting.status_code == 200, waiting.text
