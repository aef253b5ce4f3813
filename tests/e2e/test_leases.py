"""Leases against a real server: expiry, fencing, heartbeats, retries, cancellation and deletion.

The server sweeps expired leases every second. An expired job goes back to
the queue after the retry delay, or ends as ERROR on its last attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.dispatching import (
    HTTP_TIMEOUT_MARGIN_SECONDS,
    claim,
    claim_job,
    complete,
    create_service_with,
    error_title,
    heartbeat,
    parse_timestamp,
    read_full_job,
    submit,
)

pytestmark = pytest.mark.e2e

SHORT_LEASE_SECONDS = 1
EXPIRY_WAIT_SECONDS = 10
"""Long enough for a one-second lease to expire and the once-a-second sweep to handle it."""
RETRY_DELAY_SECONDS = 2.0
MIN_RETRY_JITTER = 0.5
"""The smallest factor the server scales a retry delay by, so failed jobs do not return together."""
CLOCK_TOLERANCE_SECONDS = 0.1
CANCELLED = "cancelled by request"


def wait_for_finish(http: httpx.Client, job_id: str, seconds: float) -> dict[str, str]:
    """Long-poll GET /jobs/{id} until the job is COMPLETED or ERROR; return its full view."""
    response = http.get(
        f"/jobs/{job_id}",
        params={"wait_seconds": seconds, "view": "full"},
        timeout=seconds + HTTP_TIMEOUT_MARGIN_SECONDS,
    )
    assert response.status_code == 200, response.text
    job: dict[str, str] = response.json()["data"]
    return job


def test_expired_lease_job_claimed_again(http: httpx.Client) -> None:
    service_id = create_service_with(http, retry_delay_seconds=0)
    job_id = submit(http, service_id, 3)
    stale = claim_job(http, service_id, worker="stale", lease_seconds=SHORT_LEASE_SECONDS)

    fresh = claim_job(http, service_id, worker="fresh", wait_seconds=EXPIRY_WAIT_SECONDS)

    assert fresh["id"] == job_id
    assert fresh["lease"]["worker"] == "fresh"
    assert fresh["lease"]["attempt"] == 2
    assert fresh["lease"]["token"] != stale["lease"]["token"]

    stale_patch = complete(http, stale)
    assert stale_patch.status_code == 409, stale_patch.text
    assert error_title(stale_patch) == "Lease Lost"
    unchanged = read_full_job(http, job_id)
    assert unchanged["status"] == "WORKING"
    assert unchanged["results"] is None
    assert unchanged["worker"] == "fresh"

    stale_heartbeat = heartbeat(http, job_id, stale["lease"]["token"])
    assert stale_heartbeat.status_code == 409, stale_heartbeat.text
    assert error_title(stale_heartbeat) == "Lease Lost"

    fresh_patch = complete(http, fresh)
    assert fresh_patch.status_code == 200, fresh_patch.text
    finished = read_full_job(http, job_id)
    assert finished["status"] == "COMPLETED"
    assert finished["results"] == {"result": 6}


def test_stale_patch_after_completion_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http, retry_delay_seconds=0)
    job_id = submit(http, service_id, 3)
    stale = claim_job(http, service_id, lease_seconds=SHORT_LEASE_SECONDS)
    fresh = claim_job(http, service_id, wait_seconds=EXPIRY_WAIT_SECONDS)
    assert complete(http, fresh).status_code == 200

    stale_patch = http.patch(f"/jobs/{job_id}", json={
        "status": "ERROR", "lease": stale["lease"]["token"],
    })

    assert stale_patch.status_code == 409, stale_patch.text
    assert read_full_job(http, job_id)["status"] == "COMPLETED"


def test_heartbeat_extends_lease(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id, lease_seconds=5)
    claimed_expiry = parse_timestamp(job["lease"]["expires_at"])

    response = heartbeat(http, job["id"], job["lease"]["token"], lease_seconds=600)

    assert response.status_code == 200, response.text
    lease = response.json()["data"]["lease"]
    assert lease["token"] == job["lease"]["token"]
    assert parse_timestamp(lease["expires_at"]) > claimed_expiry + timedelta(seconds=500)
    read_back = read_full_job(http, job["id"])["lease"]
    assert read_back["expires_at"] == lease["expires_at"]


def test_heartbeat_keeps_job_past_lease(http: httpx.Client) -> None:
    service_id = create_service_with(http, retry_delay_seconds=0)
    submit(http, service_id, 1)
    job = claim_job(http, service_id, lease_seconds=2)
    token = job["lease"]["token"]

    # Each round renews the two-second lease, then a rival claim waits one second
    # for the job; three rounds outlast the first lease.
    for _ in range(3):
        beat = heartbeat(http, job["id"], token, lease_seconds=2)
        rival = claim(http, service_id, wait_seconds=1)
        assert beat.status_code == 200, beat.text
        assert rival.status_code == 204, rival.text

    assert complete(http, job).status_code == 200


def test_fail_without_retry_ends_error(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id)

    response = http.post(f"/jobs/{job['id']}/fail",
                         json={"lease": job["lease"]["token"], "error": "disk full"})

    assert response.status_code == 200, response.text
    failed = read_full_job(http, job["id"])
    assert failed["status"] == "ERROR"
    assert failed["error"] == "disk full"
    assert failed["lease"] is None
    assert failed["date_finished"] is not None


def test_max_attempts_fail_ends_error(http: httpx.Client) -> None:
    service_id = create_service_with(http, max_attempts=2, retry_delay_seconds=0)
    job_id = submit(http, service_id, 1)
    statuses: list[str] = []

    for attempt in (1, 2):
        job = claim_job(http, service_id, wait_seconds=EXPIRY_WAIT_SECONDS)
        assert job["lease"]["attempt"] == attempt
        response = http.post(f"/jobs/{job_id}/fail", json={
            "lease": job["lease"]["token"], "error": f"flaky on attempt {attempt}", "retry": True,
        })
        assert response.status_code == 200, response.text
        statuses.append(response.json()["data"]["status"])

    assert statuses == ["REGISTERED", "ERROR"]
    failed = read_full_job(http, job_id)
    assert failed["status"] == "ERROR"
    assert "flaky on attempt 2" in failed["error"]
    assert "no attempts left" in failed["error"]
    assert claim(http, service_id).status_code == 204


def test_last_lease_expiry_ends_error(http: httpx.Client) -> None:
    service_id = create_service_with(http, max_attempts=1)
    job_id = submit(http, service_id, 1)
    claim_job(http, service_id, worker="vanished", lease_seconds=SHORT_LEASE_SECONDS)

    finished = wait_for_finish(http, job_id, EXPIRY_WAIT_SECONDS)

    assert finished["status"] == "ERROR"
    assert "expired" in finished["error"]
    assert "vanished" in finished["error"]
    assert claim(http, service_id).status_code == 204


def test_retry_delay_hides_job(http: httpx.Client) -> None:
    service_id = create_service_with(http, retry_delay_seconds=RETRY_DELAY_SECONDS)
    job_id = submit(http, service_id, 1)
    job = claim_job(http, service_id)

    before_fail = datetime.now(UTC)
    failed = http.post(f"/jobs/{job_id}/fail", json={
        "lease": job["lease"]["token"], "error": "flaky", "retry": True,
    })
    after_fail = datetime.now(UTC)
    early = claim(http, service_id)
    again = claim(http, service_id, wait_seconds=EXPIRY_WAIT_SECONDS)
    claimed_at = datetime.now(UTC)

    assert failed.status_code == 200, failed.text
    requeued = failed.json()["data"]
    assert requeued["status"] == "REGISTERED"
    assert requeued["error"] == "flaky"
    visible_at = parse_timestamp(requeued["visible_at"])
    shortest = timedelta(seconds=RETRY_DELAY_SECONDS * MIN_RETRY_JITTER - CLOCK_TOLERANCE_SECONDS)
    longest = timedelta(seconds=RETRY_DELAY_SECONDS + CLOCK_TOLERANCE_SECONDS)
    assert visible_at >= before_fail + shortest
    assert visible_at <= after_fail + longest

    assert early.status_code == 204, early.text
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] == job_id
    assert again.json()["data"]["lease"]["attempt"] == 2
    assert claimed_at >= visible_at


def test_cancel_registered_never_claimed(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    job_id = submit(http, service_id, 1)

    response = http.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "ERROR"
    assert claim(http, service_id, wait_seconds=1).status_code == 204
    cancelled = read_full_job(http, job_id)
    assert cancelled["status"] == "ERROR"
    assert cancelled["error"] == CANCELLED
    assert cancelled["attempt"] == 0


def test_cancel_working_heartbeat_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id)

    cancel = http.post(f"/jobs/{job['id']}/cancel")
    beat = heartbeat(http, job["id"], job["lease"]["token"])

    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["data"]["status"] == "WORKING"
    assert cancel.json()["data"]["cancel_requested"] is True
    assert beat.status_code == 409, beat.text
    assert error_title(beat) == "Job Cancelled"
    cancelled = read_full_job(http, job["id"])
    assert cancelled["status"] == "ERROR"
    assert cancelled["error"] == CANCELLED
    assert cancelled["lease"] is None


def test_cancel_working_patch_rejected(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id)

    cancel = http.post(f"/jobs/{job['id']}/cancel")
    patch = complete(http, job)

    assert cancel.status_code == 202, cancel.text
    assert patch.status_code == 409, patch.text
    assert error_title(patch) == "Job Cancelled"
    cancelled = read_full_job(http, job["id"])
    assert cancelled["status"] == "ERROR"
    assert cancelled["results"] is None
    assert cancelled["error"] == CANCELLED


def test_cancel_vanished_worker_ends_error(http: httpx.Client) -> None:
    service_id = create_service_with(http, retry_delay_seconds=0)
    submit(http, service_id, 1)
    job = claim_job(http, service_id, lease_seconds=SHORT_LEASE_SECONDS)

    cancel = http.post(f"/jobs/{job['id']}/cancel")
    finished = wait_for_finish(http, job["id"], EXPIRY_WAIT_SECONDS)

    assert cancel.status_code == 202, cancel.text
    assert finished["status"] == "ERROR"
    assert finished["error"] == CANCELLED
    assert claim(http, service_id).status_code == 204


def test_cancel_finished_job_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id)
    assert complete(http, job).status_code == 200

    response = http.post(f"/jobs/{job['id']}/cancel")

    assert response.status_code == 409, response.text
    assert read_full_job(http, job["id"])["status"] == "COMPLETED"


def test_delete_working_job_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submit(http, service_id, 1)
    job = claim_job(http, service_id)

    working = http.delete(f"/jobs/{job['id']}")
    assert complete(http, job).status_code == 200
    finished = http.delete(f"/jobs/{job['id']}")

    assert working.status_code == 409, working.text
    assert finished.status_code == 204, finished.text
    assert http.get(f"/jobs/{job['id']}").status_code == 404


def test_delete_service_working_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    job_id = submit(http, service_id, 1)
    claim_job(http, service_id)

    rejected = http.delete(f"/services/{service_id}")
    forced = http.delete(f"/services/{service_id}", params={"force": "true"})

    assert rejected.status_code == 409, rejected.text
    assert forced.status_code == 204, forced.text
    assert http.get(f"/services/{service_id}").status_code == 404
    assert http.get(f"/jobs/{job_id}").status_code == 404
