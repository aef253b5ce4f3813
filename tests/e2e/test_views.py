"""Waiting for results and the two views of jobs and services, against a real server.

The default view must keep exactly the classic fields, because the TopChef
Java client fails on any field it does not know. ``view=full`` adds the rest.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.classic import (
    JOB_FIELDS,
    JOB_OVERVIEW_FIELDS,
    SERVICE_FIELDS,
    SERVICE_OVERVIEW_FIELDS,
    TOP_LEVEL_FIELDS,
)
from tests.e2e.conftest import ServerProcess
from tests.e2e.dispatching import (
    CLAIMED_LEASE_FIELDS,
    HTTP_TIMEOUT_MARGIN_SECONDS,
    JOB_FULL_FIELDS,
    SERVICE_FULL_FIELDS,
    SHOWN_LEASE_FIELDS,
    claim,
    claim_job,
    complete,
    create_service_with,
    heartbeat,
    parse_timestamp,
    submit,
)

pytestmark = pytest.mark.e2e

RESULT_WAIT_SECONDS = 10
RESULT_MAX_DELAY_SECONDS = 2
WAITER_HEAD_START_SECONDS = 0.5
"""How long the waiting GET runs before the job completes. The server exposes
no count of waiting requests, so the test cannot await the wait itself."""
SHORT_WAIT_SECONDS = 1.0
LEASE_SECONDS = 120
CLOCK_TOLERANCE_SECONDS = 5


def test_job_wait_returns_on_completion(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 4)
    job = claim_job(http, service_id)
    waiting = threading.Event()

    def wait_for_result() -> tuple[httpx.Response, float]:
        with httpx.Client(base_url=server.url) as client:
            waiting.set()
            response = client.get(f"/jobs/{job['id']}",
                                  params={"wait_seconds": RESULT_WAIT_SECONDS},
                                  timeout=RESULT_WAIT_SECONDS + HTTP_TIMEOUT_MARGIN_SECONDS)
            return response, time.monotonic()

    def complete_job() -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            return complete(client, job)

    with ThreadPoolExecutor(2) as pool:
        future = pool.submit(wait_for_result)
        assert waiting.wait(timeout=10)
        time.sleep(WAITER_HEAD_START_SECONDS)
        completed = pool.submit(complete_job).result(timeout=20)
        completed_at = time.monotonic()
        response, answered_at = future.result(timeout=RESULT_WAIT_SECONDS + 20)

    assert completed.status_code == 200, completed.text
    assert response.status_code == 200, response.text
    assert set(response.json()["data"]) == JOB_FIELDS
    assert response.json()["data"]["status"] == "COMPLETED"
    assert response.json()["data"]["results"] == {"result": 8}
    assert answered_at - completed_at < RESULT_MAX_DELAY_SECONDS


def test_job_wait_ends_unfinished(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    job_id = submit(http, service_id, 1)

    started = time.monotonic()
    response = http.get(f"/jobs/{job_id}", params={"wait_seconds": SHORT_WAIT_SECONDS})
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "REGISTERED"
    assert elapsed >= SHORT_WAIT_SECONDS - 0.1


def test_default_views_classic(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id, worker="viewer")
    job_id = job["id"]
    submit(http, service_id, 2)

    reads = {
        "job": http.get(f"/jobs/{job_id}"),
        "jobs": http.get("/jobs", params={"service_id": service_id}),
        "service jobs": http.get(f"/services/{service_id}/jobs"),
        "service": http.get(f"/services/{service_id}"),
        "services": http.get("/services"),
        "queue": http.get(f"/services/{service_id}/queue"),
        "peek": http.get(f"/services/{service_id}/jobs/next"),
        "patch": http.patch(f"/jobs/{job_id}", json={"results": {"result": 2}}),
    }

    for name, response in reads.items():
        assert response.status_code == 200, f"{name}: {response.text}"
        assert set(response.json()) <= TOP_LEVEL_FIELDS, name
    assert set(reads["job"].json()["data"]) == JOB_FIELDS
    assert set(reads["patch"].json()["data"]) == JOB_FIELDS
    assert set(reads["peek"].json()["data"]) == JOB_FIELDS
    for name in ("service jobs", "queue"):
        for listed in reads[name].json()["data"]:
            assert set(listed) == JOB_FIELDS, name
    for overview in reads["jobs"].json()["data"]:
        assert set(overview) == JOB_OVERVIEW_FIELDS
    service = reads["service"].json()["data"]
    assert set(service) == SERVICE_FIELDS
    for overview in service["jobs"]:
        assert set(overview) == JOB_OVERVIEW_FIELDS
    for overview in reads["services"].json()["data"]:
        assert set(overview) == SERVICE_OVERVIEW_FIELDS


def test_full_views_add_fields(http: httpx.Client) -> None:
    service_id = create_service_with(http, lease_seconds=LEASE_SECONDS, max_attempts=4)
    submit(http, service_id, 1)
    claimed = claim_job(http, service_id, worker="viewer")
    waiting_id = submit(http, service_id, 2, priority=7)
    full = {"view": "full"}

    job = http.get(f"/jobs/{claimed['id']}", params=full)
    jobs = http.get("/jobs", params={"service_id": service_id, **full})
    service_jobs = http.get(f"/services/{service_id}/jobs", params=full)
    service = http.get(f"/services/{service_id}", params=full)

    assert job.status_code == 200, job.text
    working = job.json()["data"]
    assert set(working) == JOB_FULL_FIELDS
    assert set(working["lease"]) == SHOWN_LEASE_FIELDS
    assert working["lease"]["worker"] == "viewer"
    assert working["service_id"] == service_id
    assert working["attempt"] == 1
    assert working["date_started"] is not None
    assert working["cancel_requested"] is False

    for response in (jobs, service_jobs):
        assert response.status_code == 200, response.text
        listed = {item["id"]: item for item in response.json()["data"]}
        assert set(listed[waiting_id]) == JOB_FULL_FIELDS
        assert listed[waiting_id]["priority"] == 7
        assert listed[waiting_id]["lease"] is None
        assert "token" not in listed[claimed["id"]]["lease"]

    assert service.status_code == 200, service.text
    detail = service.json()["data"]
    assert set(detail) == SERVICE_FULL_FIELDS
    assert detail["lease_seconds"] == LEASE_SECONDS
    assert detail["max_attempts"] == 4
    assert detail["retention_seconds"] is None
    assert detail["job_counts"]["WORKING"] == 1
    assert detail["job_counts"]["REGISTERED"] == 1


def test_claim_lease_fields(http: httpx.Client) -> None:
    service_id = create_service_with(http, lease_seconds=LEASE_SECONDS)
    submit(http, service_id, 1)

    before = datetime.now(UTC)
    response = claim(http, service_id, worker="lessee")

    assert response.status_code == 200, response.text
    assert set(response.json()) <= TOP_LEVEL_FIELDS
    job = response.json()["data"]
    assert set(job) == JOB_FULL_FIELDS
    assert job["status"] == "WORKING"
    lease = job["lease"]
    assert set(lease) == CLAIMED_LEASE_FIELDS
    assert isinstance(lease["token"], str)
    assert lease["token"]
    assert lease["worker"] == "lessee"
    assert lease["attempt"] == 1
    expires_at = parse_timestamp(lease["expires_at"])
    expected = before + timedelta(seconds=LEASE_SECONDS)
    assert abs((expires_at - expected).total_seconds()) < CLOCK_TOLERANCE_SECONDS

    beat = heartbeat(http, job["id"], lease["token"])
    assert beat.status_code == 200, beat.text
    assert set(beat.json()["data"]["lease"]) == CLAIMED_LEASE_FIELDS


def test_service_settings_patch(http: httpx.Client) -> None:
    service_id = create_service_with(http)

    patched = http.patch(f"/services/{service_id}", params={"view": "full"}, json={
        "lease_seconds": 30, "max_attempts": 5, "retry_delay_seconds": 0.5,
        "retry_delay_max_seconds": 10, "retention_seconds": 3600,
    })
    classic = http.patch(f"/services/{service_id}", json={"retention_seconds": None})

    assert patched.status_code == 200, patched.text
    settings = patched.json()["data"]
    assert settings["lease_seconds"] == 30
    assert settings["max_attempts"] == 5
    assert settings["retry_delay_seconds"] == 0.5
    assert settings["retry_delay_max_seconds"] == 10
    assert settings["retention_seconds"] == 3600
    assert classic.status_code == 200, classic.text
    assert set(classic.json()["data"]) == SERVICE_FIELDS
    full = http.get(f"/services/{service_id}", params={"view": "full"}).json()["data"]
    assert full["retention_seconds"] is None
