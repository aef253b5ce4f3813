"""SIGTERM and SIGINT to a ``topchef worker`` process while it runs a job.

Whatever the timing, no job is lost and none completes twice: the job either
finishes in the grace period, or goes back to the queue and completes once
with the next worker.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess
from tests.e2e.workers import Setup, read_record, wait_until
from topchef.client import Client, Job, JobStatus

pytestmark = pytest.mark.e2e

EXIT_TIMEOUT_SECONDS = 15


@pytest.fixture
def topchef(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url) as client:
        yield client


@pytest.fixture
def setup(server: ServerProcess, tmp_path: Path) -> Iterator[Setup]:
    running = Setup(server, tmp_path)
    yield running
    running.stop_all()


def _started(setup: Setup, job: Job) -> None:
    wait_until(lambda: ("start", job.id, 1) in read_record(setup.record), timeout=20,
               what=f"job {job.id} to start")


def _completions(setup: Setup, job: Job) -> int:
    return sum(1 for event, job_id, _ in read_record(setup.record)
               if event == "finish" and job_id == job.id)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_finishes_running_job(topchef: Client, setup: Setup, signum: int) -> None:
    worker = setup.start("sleeper", "--grace-seconds", "30")
    service_id = setup.service_id(topchef, worker)
    running = topchef.submit(service_id, {"value": 1, "seconds": 2})
    _started(setup, running)
    queued = topchef.submit(service_id, {"value": 2})

    worker.signal(signum)

    assert worker.wait(EXIT_TIMEOUT_SECONDS) == 0
    finished = topchef.get_job(running.id)
    assert finished.status is JobStatus.COMPLETED
    assert finished.attempt == 1
    assert _completions(setup, running) == 1
    left = topchef.get_job(queued.id)
    assert left.status is JobStatus.REGISTERED
    assert left.attempt == 0
    assert "no more claims" in worker.log()


@pytest.mark.parametrize("target", ["sleeper", "async_sleeper"])
def test_stop_releases_job_after_grace(topchef: Client, setup: Setup, target: str) -> None:
    worker = setup.start(target, "--grace-seconds", "1")
    service_id = setup.service_id(topchef, worker)
    job = topchef.submit(service_id, {"value": 5, "seconds": 60, "first_attempt_only": True})
    _started(setup, job)

    worker.signal(signal.SIGTERM)

    assert worker.wait(EXIT_TIMEOUT_SECONDS) == 0
    released = topchef.get_job(job.id)
    assert released.status is JobStatus.REGISTERED
    assert released.lease is None
    assert released.attempt == 1
    assert _completions(setup, job) == 0
    assert f"released job {job.id}" in worker.log()

    setup.start(target)
    finished = setup.wait(topchef, job.id)
    assert finished.status is JobStatus.COMPLETED
    assert finished.attempt == 2
    assert finished.results == {"result": 6}
    assert _completions(setup, job) == 1


def test_second_signal_releases_at_once(topchef: Client, setup: Setup) -> None:
    worker = setup.start("sleeper", "--grace-seconds", "120")
    service_id = setup.service_id(topchef, worker)
    job = topchef.submit(service_id, {"value": 1, "seconds": 60})
    _started(setup, job)

    worker.signal(signal.SIGTERM)
    worker.wait_for_log("no more claims")
    worker.signal(signal.SIGTERM)

    assert worker.wait(EXIT_TIMEOUT_SECONDS) == 0
    assert topchef.get_job(job.id).status is JobStatus.REGISTERED
    assert "releasing running jobs now" in worker.log()


def test_idle_worker_stops_after_claim(topchef: Client, setup: Setup) -> None:
    worker = setup.start("sleeper", TOPCHEF_E2E_CLAIM_WAIT_SECONDS="2")
    service_id = setup.service_id(topchef, worker)
    worker.wait_for_log("runs jobs of service")

    worker.signal(signal.SIGTERM)

    assert worker.wait(EXIT_TIMEOUT_SECONDS) == 0
    assert "stopped" in worker.log()
    job = topchef.submit(service_id, {"value": 1})
    assert topchef.get_job(job.id).status is JobStatus.REGISTERED
