"""The classic API used as the TopChef Java client (and the MATLAB bindings on it) use it.

That client cannot send PATCH, so it POSTs with ``X-HTTP-Method-Override:
PATCH``. It changes a job by sending back the whole job object it read, with
date_submitted possibly cut to milliseconds, and checks a service in with a
POST that has no body and no Content-Type. It maps every response onto fixed
classes and fails on any field it does not know, so each representation must
carry exactly the classic fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.classic import (
    JOB_FIELDS,
    JOB_OVERVIEW_FIELDS,
    OVERRIDE_HEADER,
    SERVICE_FIELDS,
    SERVICE_OVERVIEW_FIELDS,
    TOP_LEVEL_FIELDS,
    create_service,
    patch_job,
    read_job,
    read_service,
    submit_job,
)
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e

PATCH_OVERRIDE = {OVERRIDE_HEADER: "PATCH"}


def milliseconds(timestamp: str) -> str:
    """Return ``timestamp`` cut to milliseconds, as a client that keeps only those sends it."""
    return datetime.fromisoformat(timestamp).isoformat(timespec="milliseconds")


def milliseconds_zulu(timestamp: str) -> str:
    return milliseconds(timestamp).replace("+00:00", "Z")


DATE_FORMS: list[Any] = [
    pytest.param(str, id="as-read"),
    pytest.param(milliseconds, id="milliseconds"),
    pytest.param(milliseconds_zulu, id="milliseconds-zulu"),
]


def send_back(http: httpx.Client, job: dict[str, Any]) -> httpx.Response:
    """POST a whole job object to its URL as a PATCH, the way the Java client does."""
    return http.post(f"/jobs/{job['id']}", json=job, headers=PATCH_OVERRIDE)


@pytest.mark.parametrize("date_form", DATE_FORMS)
def test_whole_job_sent_back(http: httpx.Client, date_form: Callable[[str], str]) -> None:
    service_id = create_service(http)
    job_id = submit_job(http, service_id, {"value": 1})["id"]

    job = read_job(http, job_id)
    job["date_submitted"] = date_form(job["date_submitted"])
    job["status"] = "WORKING"
    working = send_back(http, job)
    assert working.status_code == 200, working.text
    assert read_job(http, job_id)["status"] == "WORKING"

    job = read_job(http, job_id)
    job["date_submitted"] = date_form(job["date_submitted"])
    job["status"] = "COMPLETED"
    job["results"] = {"result": 2}
    completed = send_back(http, job)
    assert completed.status_code == 200, completed.text

    stored = read_job(http, job_id)
    assert stored["status"] == "COMPLETED"
    assert stored["results"] == {"result": 2}
    assert stored["parameters"] == {"value": 1}


def test_registered_job_sent_back_unchanged(http: httpx.Client) -> None:
    service_id = create_service(http)
    job = read_job(http, submit_job(http, service_id, {"value": 1})["id"])

    response = send_back(http, job)

    assert response.status_code == 200, response.text
    assert read_job(http, job["id"]) == job


def test_completed_job_sent_back_unchanged(http: httpx.Client) -> None:
    service_id = create_service(http)
    job_id = submit_job(http, service_id, {"value": 1})["id"]
    patch_job(http, job_id, {"status": "WORKING"})
    patch_job(http, job_id, {"status": "COMPLETED", "results": {"result": 2}})
    job = read_job(http, job_id)
    job["date_submitted"] = milliseconds(job["date_submitted"])

    response = send_back(http, job)

    assert response.status_code == 200, response.text
    assert read_job(http, job_id)["status"] == "COMPLETED"
    assert read_job(http, job_id)["results"] == {"result": 2}


def test_check_in_without_body(http: httpx.Client) -> None:
    service_id = create_service(http)
    before = read_service(http, service_id)
    request = http.build_request("POST", f"/services/{service_id}", headers=PATCH_OVERRIDE)
    assert "content-type" not in request.headers

    response = http.send(request)

    assert response.status_code == 200, response.text
    assert set(response.json()) <= TOP_LEVEL_FIELDS
    assert read_service(http, service_id) == before


def test_check_in_with_changes(http: httpx.Client) -> None:
    service_id = create_service(http)

    response = http.post(
        f"/services/{service_id}",
        json={"is_service_available": False, "timeout": 120},
        headers=PATCH_OVERRIDE,
    )

    assert response.status_code == 200, response.text
    service = read_service(http, service_id)
    assert service["is_service_available"] is False
    assert service["timeout"] == 120


# One session of a Java-like client whose responses the field tests below inspect.

@pytest.fixture(scope="module")
def session(server: ServerProcess) -> Iterator[dict[str, httpx.Response]]:
    """Responses of every classic endpoint, by "METHOD path", for one service with two jobs.

    The first job is COMPLETED with results, the second is REGISTERED, so job
    objects appear both with and without results.
    """
    with httpx.Client(base_url=server.url, timeout=10) as http:
        responses: dict[str, httpx.Response] = {}
        responses["POST /services"] = http.post("/services", json={
            "name": "Java client", "description": "fields as a strict client maps them",
            "job_registration_schema": {"type": "object"},
            "job_result_schema": {"type": "object"},
        })
        service_id = responses["POST /services"].json()["data"]["id"]
        service = f"/services/{service_id}"

        responses["POST /services/{id}/jobs"] = http.post(
            f"{service}/jobs", json={"parameters": {"value": 1}}
        )
        first = responses["POST /services/{id}/jobs"].json()["data"]
        submit_job(http, service_id, {"value": 2})

        responses["PATCH /jobs/{id}"] = send_back(http, {**first, "status": "WORKING"})
        completed = send_back(http, {**first, "status": "COMPLETED", "results": {"result": 2}})
        assert completed.status_code == 200, completed.text

        for path in ("/", "/services", service, f"{service}/jobs", f"{service}/queue",
                     f"{service}/jobs/next", "/jobs", f"/jobs/{first['id']}", "/validator"):
            label = path.replace(service, "/services/{id}").replace(first["id"], "{id}")
            responses[f"GET {label}"] = http.get(path)
        responses["PATCH /services/{id}"] = http.post(
            service, json={"description": "checked in"}, headers=PATCH_OVERRIDE
        )
        responses["POST /validator"] = http.post(
            "/validator", json={"schema": {"type": "integer"}, "object": 1}
        )
        yield responses


def data_of(label: str) -> Callable[[dict[str, httpx.Response]], list[Any]]:
    """Return a getter for the one object in ``data`` of the response ``label``."""
    return lambda session: [session[label].json()["data"]]


def items_of(label: str) -> Callable[[dict[str, httpx.Response]], list[Any]]:
    """Return a getter for the objects in the list ``data`` of the response ``label``."""
    return lambda session: list(session[label].json()["data"])


def service_jobs_of(label: str) -> Callable[[dict[str, httpx.Response]], list[Any]]:
    """Return a getter for the job overviews inside the service of the response ``label``."""
    return lambda session: list(session[label].json()["data"]["jobs"])


REPRESENTATIONS = [
    pytest.param(data_of("POST /services/{id}/jobs"), JOB_FIELDS, id="job-created"),
    pytest.param(data_of("GET /jobs/{id}"), JOB_FIELDS, id="job-detail"),
    pytest.param(data_of("PATCH /jobs/{id}"), JOB_FIELDS, id="job-patched"),
    pytest.param(data_of("GET /services/{id}/jobs/next"), JOB_FIELDS, id="job-next"),
    pytest.param(items_of("GET /services/{id}/jobs"), JOB_FIELDS, id="service-jobs"),
    pytest.param(items_of("GET /services/{id}/queue"), JOB_FIELDS, id="queue"),
    pytest.param(items_of("GET /jobs"), JOB_OVERVIEW_FIELDS, id="job-list"),
    pytest.param(service_jobs_of("GET /services/{id}"), JOB_OVERVIEW_FIELDS,
                 id="jobs-in-service"),
    pytest.param(service_jobs_of("PATCH /services/{id}"), JOB_OVERVIEW_FIELDS,
                 id="jobs-in-checked-in-service"),
    pytest.param(items_of("GET /services"), SERVICE_OVERVIEW_FIELDS, id="service-list"),
    pytest.param(data_of("GET /services/{id}"), SERVICE_FIELDS, id="service-detail"),
    pytest.param(data_of("PATCH /services/{id}"), SERVICE_FIELDS, id="service-checked-in"),
    pytest.param(data_of("POST /services"), {"message", "id"}, id="service-created"),
    pytest.param(
        data_of("GET /"),
        {"maintainer_name", "maintainer_email", "documentation_url",
         "source_code_repository_url", "version"},
        id="api-metadata",
    ),
    pytest.param(data_of("GET /validator"), set(), id="validator-description"),
    pytest.param(data_of("POST /validator"), {"status"}, id="validator-result"),
]


@pytest.mark.parametrize(("objects_in", "fields"), REPRESENTATIONS)
def test_exact_fields(
    session: dict[str, httpx.Response],
    objects_in: Callable[[dict[str, httpx.Response]], list[Any]],
    fields: set[str],
) -> None:
    objects = objects_in(session)

    assert objects
    for item in objects:
        assert set(item) == fields, item


def test_both_jobs_seen_in_lists(session: dict[str, httpx.Response]) -> None:
    statuses = [job["status"] for job in session["GET /services/{id}/jobs"].json()["data"]]

    assert statuses == ["COMPLETED", "REGISTERED"]


@pytest.mark.parametrize(
    "label",
    [
        "GET /", "GET /services", "POST /services", "GET /services/{id}", "PATCH /services/{id}",
        "GET /services/{id}/jobs", "POST /services/{id}/jobs", "GET /services/{id}/queue",
        "GET /services/{id}/jobs/next", "GET /jobs", "GET /jobs/{id}", "PATCH /jobs/{id}",
        "GET /validator", "POST /validator",
    ],
)
def test_top_level_fields(session: dict[str, httpx.Response], label: str) -> None:
    response = session[label]

    assert response.is_success, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) <= TOP_LEVEL_FIELDS
    assert "data" in response.json()
    assert set(response.json()["links"]) >= {"self"}
