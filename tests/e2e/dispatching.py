"""Shared helpers for the end-to-end tests of claims, leases, retries and submission extras."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from tests.e2e.classic import (
    INTEGER_RESULT_SCHEMA,
    INTEGER_VALUE_SCHEMA,
    JOB_FIELDS,
    SERVICE_FIELDS,
)

JOB_FULL_FIELDS = JOB_FIELDS | {
    "service_id", "priority", "attempt", "worker", "lease", "date_started", "date_finished",
    "visible_at", "cancel_requested", "error",
}
SERVICE_FULL_FIELDS = SERVICE_FIELDS | {
    "lease_seconds", "max_attempts", "retry_delay_seconds", "retry_delay_max_seconds",
    "retention_seconds", "last_checked_in", "date_created", "job_counts",
    "timed_out_at", "callback_url",
}
CLAIMED_LEASE_FIELDS = {"token", "expires_at", "worker", "attempt"}
"""The lease in a claim or heartbeat response, which goes to the worker holding it."""
SHOWN_LEASE_FIELDS = CLAIMED_LEASE_FIELDS - {"token"}
"""The lease as anyone else reads it: without the token."""

MAX_BATCH_JOBS = 1000
"""How many jobs one POST /services/{id}/jobs/batch accepts."""
HTTP_TIMEOUT_MARGIN_SECONDS = 10.0
"""Added to a long poll's wait_seconds to get the client timeout, so the server ends the wait."""


def create_service_with(http: httpx.Client, **settings: Any) -> str:
    """Create a service taking {"value": int} and returning {"result": int}, with ``settings``."""
    body = {
        "name": f"e2e-{uuid.uuid4().hex[:8]}",
        "description": "created by an end-to-end test of dispatch",
        "job_registration_schema": INTEGER_VALUE_SCHEMA,
        "job_result_schema": INTEGER_RESULT_SCHEMA,
        **settings,
    }
    response = http.post("/services", json=body)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit(http: httpx.Client, service_id: str, value: int, *, priority: int = 0) -> str:
    """Submit a job that must be accepted and return its id."""
    body = {"parameters": {"value": value}, "priority": priority}
    response = http.post(f"/services/{service_id}/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def submit_batches(http: httpx.Client, service_id: str, count: int) -> list[str]:
    """Submit jobs with values 0 to ``count - 1`` in as few batches as allowed; return their ids."""
    ids: list[str] = []
    for start in range(0, count, MAX_BATCH_JOBS):
        stop = min(count, start + MAX_BATCH_JOBS)
        jobs = [{"parameters": {"value": value}} for value in range(start, stop)]
        response = http.post(f"/services/{service_id}/jobs/batch", json={"jobs": jobs})
        assert response.status_code == 201, response.text
        ids.extend(job["id"] for job in response.json()["data"])
    return ids


def claim(http: httpx.Client, service_id: str, **body: Any) -> httpx.Response:
    """POST a claim with ``body``; the client waits long enough for any ``wait_seconds``."""
    timeout = body.get("wait_seconds", 0) + HTTP_TIMEOUT_MARGIN_SECONDS
    return http.post(f"/services/{service_id}/jobs/next", json=body, timeout=timeout)


def claim_job(http: httpx.Client, service_id: str, **body: Any) -> dict[str, Any]:
    """Claim one job, which must be there, and return it with its lease."""
    response = claim(http, service_id, **body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def complete(http: httpx.Client, job: dict[str, Any]) -> httpx.Response:
    """PATCH a claimed job to COMPLETED with results ``2 * value``, fenced by its lease token."""
    body = {
        "status": "COMPLETED",
        "results": {"result": 2 * job["parameters"]["value"]},
        "lease": job["lease"]["token"],
    }
    return http.patch(f"/jobs/{job['id']}", json=body)


def heartbeat(http: httpx.Client, job_id: str, token: str, **body: Any) -> httpx.Response:
    return http.post(f"/jobs/{job_id}/heartbeat", json={"lease": token, **body})


def read_full_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    response = http.get(f"/jobs/{job_id}", params={"view": "full"})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def error_title(response: httpx.Response) -> str:
    """Return the title of the single error in an error response."""
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    title: str = errors[0]["title"]
    return title


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)
