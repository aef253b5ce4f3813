"""Shared helpers for the end-to-end tests of the classic API: field sets, setup, checks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

TOP_LEVEL_FIELDS = {"data", "meta", "links"}
JOB_FIELDS = {"id", "status", "parameters", "results", "date_submitted"}
JOB_OVERVIEW_FIELDS = {"id", "status", "date_submitted"}
SERVICE_OVERVIEW_FIELDS = {"id", "name", "description"}
SERVICE_FIELDS = {
    "id", "name", "description", "job_registration_schema", "job_result_schema",
    "is_service_available", "has_timed_out", "timeout", "jobs",
}
ERROR_FIELDS = {"status_code", "title", "detail"}

OVERRIDE_HEADER = "X-HTTP-Method-Override"

INTEGER_VALUE_SCHEMA = {
    "type": "object",
    "properties": {"value": {"type": "integer"}},
    "required": ["value"],
}
INTEGER_RESULT_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "integer"}},
    "required": ["result"],
}


def create_service(
    http: httpx.Client,
    *,
    registration_schema: dict[str, Any] | None = None,
    result_schema: dict[str, Any] | None = None,
    name: str | None = None,
) -> str:
    """Create a service (by default one that takes {"value": int} and returns {"result": int})."""
    body = {
        "name": name or f"e2e-{uuid.uuid4().hex[:8]}",
        "description": "created by an end-to-end test",
        "job_registration_schema": registration_schema or INTEGER_VALUE_SCHEMA,
        "job_result_schema": result_schema or INTEGER_RESULT_SCHEMA,
    }
    response = http.post("/services", json=body)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit_job(http: httpx.Client, service_id: str, parameters: Any) -> dict[str, Any]:
    """Submit a job that must be accepted and return it as the 201 response shows it."""
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": parameters})
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def read_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    response = http.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def patch_job(http: httpx.Client, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH a job with a change that must be accepted and return the job in the response."""
    response = http.patch(f"/jobs/{job_id}", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def read_service(http: httpx.Client, service_id: str) -> dict[str, Any]:
    response = http.get(f"/services/{service_id}")
    assert response.status_code == 200, response.text
    service: dict[str, Any] = response.json()["data"]
    return service


MAX_PAGES = 1000
"""How many pages ``read_all_pages`` follows before it fails the test."""


def read_all_pages(http: httpx.Client, path: str) -> list[Any]:
    """Return the items of a list endpoint, following ``links.next`` when the server pages it."""
    items: list[Any] = []
    url: str | None = path
    for _ in range(MAX_PAGES):
        assert url is not None
        response = http.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        url = body.get("links", {}).get("next")
        if url is None:
            return items
    raise AssertionError(f"{path} has more than {MAX_PAGES} pages")


def error_entries(response: httpx.Response, status_code: int) -> list[dict[str, Any]]:
    """Check that ``response`` is an error envelope for ``status_code`` and return its entries.

    Every entry must carry exactly status_code, title and detail, with the
    response's own status code.
    """
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/json")

    body = response.json()
    assert set(body) == {"errors"}, body
    entries: list[dict[str, Any]] = body["errors"]
    assert entries, body

    for entry in entries:
        assert set(entry) == ERROR_FIELDS, entry
        assert entry["status_code"] == status_code, entry
        assert isinstance(entry["title"], str), entry
        assert isinstance(entry["detail"], str), entry
        assert entry["detail"], entry
    return entries


def titles(entries: list[dict[str, Any]]) -> set[str]:
    return {entry["title"] for entry in entries}


def details(entries: list[dict[str, Any]]) -> str:
    """Join every entry's detail into one text, to look for a path or word in any of them."""
    return "\n".join(entry["detail"] for entry in entries)
