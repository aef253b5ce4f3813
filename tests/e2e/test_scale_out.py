"""Several server processes on one PostgreSQL database.

These tests start their own server processes on a fresh schema of the test
database and skip with the reason where no PostgreSQL server responds.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL, fresh_postgres_schema
from tests.e2e.conftest import ServerProcess, start_server

pytestmark = pytest.mark.e2e

SERVER_COUNT = 3
CLAIMER_COUNT = 16
JOB_COUNT = 5000
BATCH_SIZE = 1000
CLAIM_LIMIT = 10
RUN_TIMEOUT_SECONDS = 300
APPLICATION_NAME = "topchef_scale_out_test"

SERVICE = {
    "name": "scale-out",
    "description": "jobs spread over several server processes",
    "job_registration_schema": {"type": "object", "required": ["n"]},
    "job_result_schema": {"type": "object", "required": ["n"]},
    "lease_seconds": 60,
}


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Three server processes on one fresh PostgreSQL schema."""
    with fresh_postgres_schema() as url:
        url = f"{url}&application_name={APPLICATION_NAME}"
        started: list[ServerProcess] = []
        try:
            for index in range(SERVER_COUNT):
                started.append(start_server(url, tmp_path / f"server-{index}.log"))
            yield started
        finally:
            for server in started:
                server.stop()


def create_service(url: str) -> str:
    response = httpx.post(url + "/services", json=SERVICE)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit_all(url: str, service_id: str) -> set[str]:
    submitted: set[str] = set()
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, JOB_COUNT, BATCH_SIZE):
            jobs = [{"parameters": {"n": n}} for n in range(start, start + BATCH_SIZE)]
            response = client.post(f"/services/{service_id}/jobs/batch", json={"jobs": jobs})
            assert response.status_code == 201, response.text
            submitted.update(job["id"] for job in response.json()["data"])
    return submitted


class Claimer(threading.Thread):
    """Claims and completes jobs until the queue stays empty, recording each job it took."""

    def __init__(self, url: str, service_id: str, name: str, done: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.url = url
        self.service_id = service_id
        self.done = done
        self.claimed: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        body = {"worker": self.name, "wait_seconds": 1, "limit": CLAIM_LIMIT}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.done.is_set() and time.monotonic() < deadline:
                response = client.post(f"/services/{self.service_id}/jobs/next", json=body)
                if response.status_code == 204:
                    continue
                if response.status_code != 200:
                    self.failures.append(f"claim: {response.status_code} {response.text}")
                    return
                for job in response.json()["data"]:
                    self.complete(client, job)

    def complete(self, client: httpx.Client, job: dict[str, object]) -> None:
        lease = job["lease"]
        assert isinstance(lease, dict)
        patch = {"status": "COMPLETED", "results": job["parameters"], "lease": lease["token"]}
        response = client.patch(f"/jobs/{job['id']}", json=patch)
        if response.status_code != 200:
            self.failures.append(f"complete {job['id']}: {response.status_code} {response.text}")
            return
        self.claimed.append(str(job["id"]))


def count_completed(url: str, service_id: str) -> int:
    response = httpx.get(f"{url}/services/{service_id}?view=full")
    count: int = response.json()["data"]["job_counts"]["COMPLETED"]
    return count


def test_three_processes_complete_each_job_once(servers: list[ServerProcess]) -> None:
    service_id = create_service(servers[0].url)
    submitted = submit_all(servers[0].url, service_id)
    done = threading.Event()
    claimers = [
        Claimer(servers[index % SERVER_COUNT].url, service_id, f"claimer-{index}", done)
        for index in range(CLAIMER_COUNT)
    ]

    started = time.monotonic()
    for claimer in claimers:
        claimer.start()
    deadline = started + RUN_TIMEOUT_SECONDS
    while count_completed(servers[1].url, service_id) < JOB_COUNT and time.monotonic() < deadline:
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    done.set()
    for claimer in claimers:
        claimer.join(timeout=30)

    completions = collections.Counter(job for claimer in claimers for job in claimer.claimed)
    duplicates = sum(count - 1 for count in completions.values() if count > 1)
    lost = submitted - set(completions)
    print(f"\n{JOB_COUNT} jobs on {SERVER_COUNT} processes by {CLAIMER_COUNT} claimers in "
          f"{elapsed:.1f} s: {JOB_COUNT / elapsed:.0f} jobs/s, duplicates {duplicates}, "
          f"lost {len(lost)}")
    assert [f for claimer in claimers for f in claimer.failures] == []
    assert duplicates == 0
    assert lost == set()
    assert count_completed(servers[2].url, service_id) == JOB_COUNT


def test_long_poll_woken_by_other_process(servers: list[ServerProcess]) -> None:
    service_id = create_service(servers[0].url)
    claims: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: claims.append(httpx.post(
        f"{servers[1].url}/services/{service_id}/jobs/next",
        json={"worker": "waiter", "wait_seconds": 20}, timeout=30,
    )))
    waiting.start()
    time.sleep(1)  # the waiter must be inside its long poll before the job arrives

    submitted_at = time.monotonic()
    job = httpx.post(f"{servers[0].url}/services/{service_id}/jobs", json={"parameters": {"n": 1}})
    waiting.join(timeout=30)
    gap = time.monotonic() - submitted_at

    print(f"\ncross-process wake-up gap {gap * 1000:.0f} ms")
    assert claims[0].status_code == 200
    assert claims[0].json()["data"]["id"] == job.json()["data"]["id"]
    assert gap < 2.5, "the waiter was woken by its periodic recheck, not by the notification"


def terminate_server_connections() -> int:
    """Drop every database connection of the test's servers, as a database restart would."""
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        dropped = connection.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name"
        ), {"name": APPLICATION_NAME}).scalar_one()
    engine.dispose()
    return int(dropped)


class Submitter(threading.Thread):
    """Submits jobs one by one until stopped, keeping the ids the server acknowledged."""

    def __init__(self, url: str, service_id: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.service_id = service_id
        self.stop = threading.Event()
        self.acknowledged: list[str] = []
        self.refused: collections.Counter[str] = collections.Counter()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    response = client.post(f"/services/{self.service_id}/jobs",
                                           json={"parameters": {"n": n}})
                except httpx.TransportError as exc:
                    self.refused[type(exc).__name__] += 1
                    continue
                if response.status_code == 201:
                    self.acknowledged.append(response.json()["data"]["id"])
                else:
                    self.refused[str(response.status_code)] += 1

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=60)


def assert_no_acknowledged_job_lost(url: str, service_id: str, acknowledged: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        missing = [job for job in acknowledged if client.get(f"/jobs/{job}").status_code != 200]
        recovered = client.post(f"/services/{service_id}/jobs", json={"parameters": {"n": 0}})
    assert missing == []
    assert recovered.status_code == 201


def test_dropped_connections_lose_no_job(servers: list[ServerProcess]) -> None:
    service_id = create_service(servers[0].url)
    submitter = Submitter(servers[0].url, service_id)

    submitter.start()
    dropped = 0
    for _ in range(3):
        time.sleep(0.7)  # let submissions run between the drops
        dropped += terminate_server_connections()
    time.sleep(0.7)
    submitter.finish()

    print(f"\n{len(submitter.acknowledged)} jobs acknowledged, refused "
          f"{dict(submitter.refused)}, {dropped} connections dropped")
    assert dropped > 0
    assert set(submitter.refused) <= {"503"}
    assert_no_acknowledged_job_lost(servers[2].url, service_id, submitter.acknowledged)


def postgres_restart_command() -> list[str] | None:
    """Return the command that restarts the local PostgreSQL cluster, where this test may."""
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    local = sa.make_url(POSTGRES_URL).host in ("127.0.0.1", "localhost")
    if not (clusters and local and shutil.which("pg_ctlcluster") and os.geteuid() == 0):
        return None
    version = clusters[-1].parent.name
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


def test_database_restart_loses_no_job(servers: list[ServerProcess]) -> None:
    command = postgres_restart_command()
    if command is None:
        pytest.skip("restarting PostgreSQL needs root and a local pg_ctlcluster cluster; "
                    "test_dropped_connections_lose_no_job covers dropped connections")
    service_id = create_service(servers[0].url)
    submitter = Submitter(servers[0].url, service_id)

    submitter.start()
    time.sleep(0.5)  # let submissions run before the restart
    restart = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    time.sleep(1.0)  # and after it, so the servers must have reconnected
    submitter.finish()

    print(f"\nPostgreSQL restarted: {len(submitter.acknowledged)} jobs acknowledged, "
          f"refused {dict(submitter.refused)}")
    assert restart.returncode == 0, restart.stderr
    assert set(submitter.refused) <= {"503"}
    assert_no_acknowledged_job_lost(servers[1].url, service_id, submitter.acknowledged)
