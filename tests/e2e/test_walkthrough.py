"""The "Add One" example of the original TopChef user guide, run against a real server.

The guide's example has two mistakes that its readers copy. Its result schema
requires "value" while the results it shows carry "result". It also posts the
job with ``requests.post(..., data=data)``, which form-encodes the dict (a
nested dict contributes only its keys, so the body is ``parameters=value``)
although the header claims application/json, and the value it sends is the
string "1". The server must create that service, reject those requests with
400 and a detail that names what to fix, and run the corrected example to the
end.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.e2e.classic import (
    JOB_FIELDS,
    details,
    error_entries,
    patch_job,
    read_job,
    submit_job,
    titles,
)

pytestmark = pytest.mark.e2e

ADD_ONE_AS_DOCUMENTED: dict[str, Any] = {
    "name": "Add One",
    "description": "Adds one to a given number",
    "job_registration_schema": {
        "title": "The schema for the service",
        "description": "Adds one to a given number",
        "$schema": "http://json-schema.org/schema#",
        "type": "object",
        "properties": {
            "value": {"title": "value", "description": "The number to add", "type": "integer"},
        },
        "required": ["value"],
    },
    "job_result_schema": {
        "title": "Results",
        "description": "The schema for valid job results",
        "$schema": "http://json-schema.org/schema#",
        "type": "object",
        "properties": {
            "result": {"title": "result", "description": "The result", "type": "integer"},
        },
        "required": ["value"],
    },
}


def corrected_add_one() -> dict[str, Any]:
    """Return the example service with its result schema requiring "result"."""
    service = copy.deepcopy(ADD_ONE_AS_DOCUMENTED)
    service["job_result_schema"]["required"] = ["result"]
    return service


def create(http: httpx.Client, service: dict[str, Any]) -> str:
    response = http.post("/services", json=service)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def service_job_ids(http: httpx.Client, service_id: str) -> list[str]:
    response = http.get(f"/services/{service_id}/jobs")
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["data"]]


def test_documented_service_created(http: httpx.Client) -> None:
    response = http.post(
        "/services", json=ADD_ONE_AS_DOCUMENTED, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["message"] == "service successfully created"


def test_documented_results_rejected(http: httpx.Client) -> None:
    service_id = create(http, ADD_ONE_AS_DOCUMENTED)
    job = submit_job(http, service_id, {"value": 1})
    patch_job(http, job["id"], {"status": "WORKING"})

    response = http.patch(
        f"/jobs/{job['id']}", json={"status": "COMPLETED", "results": {"result": 2}}
    )

    entries = error_entries(response, 400)
    assert titles(entries) == {"Schema Violation"}
    assert '"value"' in details(entries)
    assert "required" in details(entries)
    stored = read_job(http, job["id"])
    assert stored["status"] == "WORKING"
    assert stored["results"] is None


def test_form_body_as_json_rejected(http: httpx.Client) -> None:
    service_id = create(http, corrected_add_one())

    # What requests sends for data={"parameters": {"value": "1"}} with that header.
    response = http.post(
        f"/services/{service_id}/jobs",
        content=b"parameters=value",
        headers={"Content-Type": "application/json"},
    )

    entries = error_entries(response, 400)
    assert titles(entries) == {"Request Not JSON"}
    assert "parameters=value" in details(entries)
    assert service_job_ids(http, service_id) == []


def test_form_post_rejected(http: httpx.Client) -> None:
    service_id = create(http, corrected_add_one())

    response = http.post(f"/services/{service_id}/jobs", data={"parameters": "value"})

    entries = error_entries(response, 400)
    assert titles(entries) == {"Request Not JSON"}
    assert "application/x-www-form-urlencoded" in details(entries)
    assert "parameters=value" in details(entries)
    assert service_job_ids(http, service_id) == []


def test_string_value_rejected(http: httpx.Client) -> None:
    service_id = create(http, corrected_add_one())

    response = http.post(f"/services/{service_id}/jobs", json={"parameters": {"value": "1"}})

    entries = error_entries(response, 400)
    assert titles(entries) == {"Schema Violation"}
    assert "/value" in details(entries)
    assert "integer" in details(entries)
    assert service_job_ids(http, service_id) == []


def test_corrected_walkthrough_completes(http: httpx.Client) -> None:
    service_id = create(http, corrected_add_one())
    job_id = submit_job(http, service_id, {"value": 1})["id"]

    registered = read_job(http, job_id)
    assert set(registered) == JOB_FIELDS
    assert registered["status"] == "REGISTERED"
    assert registered["parameters"] == {"value": 1}
    assert registered["results"] is None

    # The worker's side: take the next job, work on it, report the result.
    next_response = http.get(f"/services/{service_id}/jobs/next")
    assert next_response.status_code == 200, next_response.text
    assert next_response.json()["data"]["id"] == job_id
    patch_job(http, job_id, {"status": "WORKING"})
    value = next_response.json()["data"]["parameters"]["value"]
    patch_job(http, job_id, {"status": "COMPLETED", "results": {"result": value + 1}})

    completed = read_job(http, job_id)
    assert set(completed) == JOB_FIELDS
    assert completed["id"] == job_id
    assert completed["status"] == "COMPLETED"
    assert completed["parameters"] == {"value": 1}
    assert completed["results"] == {"result": 2}
    assert completed["date_submitted"] == registered["date_submitted"]
    assert http.get(f"/services/{service_id}/jobs/next").status_code == 204
