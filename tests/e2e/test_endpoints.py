"""Every classic endpoint against a real server: status codes, headers, meta and the rules.

The rules covered here are dispatch order, the job status state machine, the
service timeout clock, the JSON Schema draft a service's ``$schema`` selects,
and where X-HTTP-Method-Override is honoured.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.classic import (
    JOB_FIELDS,
    OVERRIDE_HEADER,
    SERVICE_OVERVIEW_FIELDS,
    create_service,
    details,
    error_entries,
    patch_job,
    read_all_pages,
    read_job,
    read_service,
    submit_job,
    titles,
)
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e

QUEUE_PEEK_SIZE = 10
"""How many jobs GET /services/{id}/queue shows at most."""

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def is_canonical_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def job_in(http: httpx.Client, service_id: str, status: str) -> dict[str, Any]:
    """Submit a job and move it to ``status`` by allowed steps. A COMPLETED job gets results."""
    job = submit_job(http, service_id, {"value": 1})
    if status == "REGISTERED":
        return job

    job = patch_job(http, job["id"], {"status": "WORKING"})
    if status == "COMPLETED":
        return patch_job(http, job["id"], {"status": "COMPLETED", "results": {"result": 2}})
    if status == "ERROR":
        return patch_job(http, job["id"], {"status": "ERROR"})
    return job


@pytest.fixture
def service_id(http: httpx.Client) -> str:
    """A new service taking {"value": int} parameters and {"result": int} results."""
    return create_service(http)


def queue_ids(http: httpx.Client, service_id: str) -> list[str]:
    response = http.get(f"/services/{service_id}/queue")
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["data"]]


def next_id(http: httpx.Client, service_id: str) -> str | None:
    response = http.get(f"/services/{service_id}/jobs/next")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


# GET /

def test_root_metadata(http: httpx.Client, server: ServerProcess) -> None:
    response = http.get("/")

    assert response.status_code == 200
    body = response.json()
    for name in ("maintainer_name", "maintainer_email", "documentation_url",
                 "source_code_repository_url", "version"):
        assert isinstance(body["data"][name], str), name
    assert body["meta"]["schema"]["type"] == "object"
    assert body["links"]["self"] == f"{server.url}/"


# /services

def test_service_created(http: httpx.Client, server: ServerProcess) -> None:
    response = http.post("/services", json={
        "name": "created", "description": "a new service",
        "job_registration_schema": {"type": "object"}, "job_result_schema": {"type": "object"},
    })

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["message"] == "service successfully created"
    assert is_canonical_uuid(data["id"])
    assert response.headers["location"] == f"{server.url}/services/{data['id']}"
    fetched = http.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json()["data"]["id"] == data["id"]
    assert fetched.json()["data"]["name"] == "created"


def test_services_list_overview(http: httpx.Client, service_id: str) -> None:
    response = http.get("/services")

    assert response.status_code == 200
    body = response.json()
    entries = {service["id"]: service for service in read_all_pages(http, "/services")}
    assert set(entries[service_id]) == SERVICE_OVERVIEW_FIELDS
    assert entries[service_id]["description"] == "created by an end-to-end test"
    assert set(body["meta"]) >= {"service_schema", "new_service_schema"}
    assert body["links"]["self"].endswith("/services")


def test_service_detail(http: httpx.Client, service_id: str, server: ServerProcess) -> None:
    response = http.get(f"/services/{service_id}")

    assert response.status_code == 200
    body = response.json()
    service = body["data"]
    assert service["id"] == service_id
    assert service["job_registration_schema"]["required"] == ["value"]
    assert service["job_result_schema"]["required"] == ["result"]
    assert service["is_service_available"] is True
    assert service["has_timed_out"] is False
    assert service["timeout"] == 30
    assert service["jobs"] == []
    assert "service_schema" in body["meta"]
    assert body["links"]["self"] == f"{server.url}/services/{service_id}"


def test_service_jobs_overview(http: httpx.Client, service_id: str) -> None:
    first = submit_job(http, service_id, {"value": 1})
    second = job_in(http, service_id, "WORKING")

    jobs = read_service(http, service_id)["jobs"]

    assert [job["id"] for job in jobs] == [first["id"], second["id"]]
    assert [job["status"] for job in jobs] == ["REGISTERED", "WORKING"]
    assert jobs[0]["date_submitted"] == first["date_submitted"]


def test_service_patch_changes(http: httpx.Client, service_id: str) -> None:
    changes = {"name": "renamed", "description": "changed", "is_available": False, "timeout": 5}

    response = http.patch(f"/services/{service_id}", json=changes)

    assert response.status_code == 200, response.text
    for service in (response.json()["data"], read_service(http, service_id)):
        assert service["name"] == "renamed"
        assert service["description"] == "changed"
        assert service["is_service_available"] is False
        assert service["timeout"] == 5


def test_service_patch_alias(http: httpx.Client, service_id: str) -> None:
    response = http.patch(f"/services/{service_id}", json={"is_service_available": False})

    assert response.status_code == 200, response.text
    assert read_service(http, service_id)["is_service_available"] is False


def test_service_patch_without_body(http: httpx.Client, service_id: str) -> None:
    before = read_service(http, service_id)

    response = http.patch(f"/services/{service_id}")

    assert response.status_code == 200, response.text
    assert read_service(http, service_id) == before


def test_service_times_out(http: httpx.Client, service_id: str) -> None:
    timeout_seconds = 1
    set_timeout = http.patch(f"/services/{service_id}", json={"timeout": timeout_seconds})
    assert set_timeout.json()["data"]["has_timed_out"] is False

    # The clock is the subject here, so the test waits it out.
    time.sleep(timeout_seconds + 0.2)
    assert read_service(http, service_id)["has_timed_out"] is True

    checked_in = http.patch(f"/services/{service_id}")
    assert checked_in.status_code == 200, checked_in.text
    assert checked_in.json()["data"]["has_timed_out"] is False
    assert read_service(http, service_id)["has_timed_out"] is False


# /services/{id}/jobs

def test_job_submitted(http: httpx.Client, service_id: str, server: ServerProcess) -> None:
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": {"value": 7}})

    assert response.status_code == 201, response.text
    body = response.json()
    job = body["data"]
    assert is_canonical_uuid(job["id"])
    assert job["status"] == "REGISTERED"
    assert job["parameters"] == {"value": 7}
    assert job["results"] is None
    assert body["meta"] == f"new job ID is {job['id']}"
    assert response.headers["location"] == f"{server.url}/jobs/{job['id']}"
    assert http.get(response.headers["location"]).json()["data"] == job


def test_job_submitted_timestamp(http: httpx.Client, service_id: str) -> None:
    before = datetime.now().astimezone()
    job = submit_job(http, service_id, {"value": 1})
    after = datetime.now().astimezone()

    assert TIMESTAMP.match(job["date_submitted"]), job["date_submitted"]
    submitted = datetime.fromisoformat(job["date_submitted"])
    assert submitted.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= submitted <= after + timedelta(seconds=1)


def test_service_jobs_list(http: httpx.Client, service_id: str) -> None:
    first = submit_job(http, service_id, {"value": 1})
    second = job_in(http, service_id, "COMPLETED")

    response = http.get(f"/services/{service_id}/jobs")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == [first, second]
    assert body["meta"]["new_job_schema"]["properties"]["parameters"] == (
        read_service(http, service_id)["job_registration_schema"]
    )
    assert body["meta"]["new_job_schema"]["required"] == ["parameters"]
    assert "data_schema" in body["meta"]


# Dispatch order: /services/{id}/queue and /services/{id}/jobs/next

def test_queue_empty(http: httpx.Client, service_id: str) -> None:
    job_in(http, service_id, "WORKING")

    response = http.get(f"/services/{service_id}/queue")

    assert response.status_code == 204
    assert response.content == b""


def test_next_empty(http: httpx.Client, service_id: str) -> None:
    job_in(http, service_id, "COMPLETED")

    response = http.get(f"/services/{service_id}/jobs/next")

    assert response.status_code == 204
    assert response.content == b""


def test_queue_in_submission_order(http: httpx.Client, service_id: str) -> None:
    submitted = [submit_job(http, service_id, {"value": n}) for n in range(QUEUE_PEEK_SIZE + 2)]
    ids = [job["id"] for job in submitted]

    response = http.get(f"/services/{service_id}/queue")

    assert response.status_code == 200
    queued = response.json()["data"]
    assert [job["id"] for job in queued] == ids[:QUEUE_PEEK_SIZE]
    assert all(set(job) == JOB_FIELDS for job in queued)
    dates = [datetime.fromisoformat(job["date_submitted"]) for job in submitted]
    assert dates == sorted(dates)
    assert dates[-1] > dates[0]


def test_next_in_submission_order(http: httpx.Client, service_id: str) -> None:
    ids = [submit_job(http, service_id, {"value": n})["id"] for n in range(3)]

    response = http.get(f"/services/{service_id}/jobs/next")

    assert response.status_code == 200
    assert response.json()["data"] == read_job(http, ids[0])


def test_next_does_not_claim(http: httpx.Client, service_id: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    assert next_id(http, service_id) == job["id"]
    assert next_id(http, service_id) == job["id"]
    assert read_job(http, job["id"])["status"] == "REGISTERED"


def test_queue_skips_taken_jobs(http: httpx.Client, service_id: str) -> None:
    ids = [submit_job(http, service_id, {"value": n})["id"] for n in range(QUEUE_PEEK_SIZE + 2)]
    patch_job(http, ids[0], {"status": "WORKING"})
    patch_job(http, ids[1], {"status": "ERROR"})
    patch_job(http, ids[2], {"status": "COMPLETED", "results": {"result": 3}})

    assert queue_ids(http, service_id) == ids[3:]
    assert next_id(http, service_id) == ids[3]


@pytest.mark.parametrize("current", ["WORKING", "ERROR"])
def test_requeued_job_keeps_place(http: httpx.Client, service_id: str, current: str) -> None:
    first = job_in(http, service_id, current)
    second = submit_job(http, service_id, {"value": 2})
    assert queue_ids(http, service_id) == [second["id"]]

    patch_job(http, first["id"], {"status": "REGISTERED"})

    assert queue_ids(http, service_id) == [first["id"], second["id"]]
    assert next_id(http, service_id) == first["id"]


def test_queue_counts_one_service(http: httpx.Client, service_id: str) -> None:
    other_service_id = create_service(http)
    submit_job(http, other_service_id, {"value": 1})
    mine = submit_job(http, service_id, {"value": 2})

    assert queue_ids(http, service_id) == [mine["id"]]
    assert next_id(http, service_id) == mine["id"]


# /jobs

def test_jobs_list_overview(http: httpx.Client, service_id: str) -> None:
    job = job_in(http, service_id, "WORKING")

    response = http.get("/jobs")

    assert response.status_code == 200
    body = response.json()
    entries = {entry["id"]: entry for entry in read_all_pages(http, "/jobs")}
    assert entries[job["id"]] == {
        "id": job["id"], "status": "WORKING", "date_submitted": job["date_submitted"],
    }
    assert "data_schema" in body["meta"]


def test_job_detail(http: httpx.Client, service_id: str, server: ServerProcess) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.get(f"/jobs/{job['id']}")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == job
    assert set(body["meta"]) >= {"job_info_schema", "patch_request_schema"}
    assert body["links"]["self"] == f"{server.url}/jobs/{job['id']}"


def test_job_patch_wrapped(http: httpx.Client, service_id: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.patch(f"/jobs/{job['id']}", json={"status": "WORKING"})

    assert response.status_code == 200, response.text
    assert set(response.json()) <= {"data", "meta", "links"}
    assert response.json()["data"] == {**job, "status": "WORKING"}
    assert read_job(http, job["id"]) == {**job, "status": "WORKING"}


# The job status state machine

ALLOWED_CHANGES = [
    ("REGISTERED", {"status": "WORKING"}),
    ("REGISTERED", {"status": "COMPLETED", "results": {"result": 2}}),
    ("REGISTERED", {"status": "ERROR"}),
    ("REGISTERED", {"status": "REGISTERED"}),
    ("WORKING", {"status": "WORKING"}),
    ("WORKING", {"status": "WORKING", "results": {"result": 1}}),
    ("WORKING", {"status": "REGISTERED"}),
    ("WORKING", {"status": "COMPLETED", "results": {"result": 2}}),
    ("WORKING", {"status": "ERROR"}),
    ("ERROR", {"status": "REGISTERED"}),
    ("ERROR", {"status": "ERROR"}),
    ("COMPLETED", {"status": "COMPLETED"}),
    ("COMPLETED", {"status": "COMPLETED", "results": {"result": 2}}),
]


@pytest.mark.parametrize(
    ("current", "change"), ALLOWED_CHANGES,
    ids=[f"{current}-{change['status']}-{len(change)}" for current, change in ALLOWED_CHANGES],
)
def test_allowed_status_change(
    http: httpx.Client, service_id: str, current: str, change: dict[str, Any]
) -> None:
    job = job_in(http, service_id, current)

    response = http.patch(f"/jobs/{job['id']}", json=change)

    assert response.status_code == 200, response.text
    stored = read_job(http, job["id"])
    assert stored["status"] == change["status"]
    assert stored["results"] == change.get("results", job["results"])


FORBIDDEN_CHANGES = [
    ("COMPLETED", {"status": "WORKING"}),
    ("COMPLETED", {"status": "REGISTERED"}),
    ("COMPLETED", {"status": "ERROR"}),
    ("ERROR", {"status": "WORKING"}),
    ("ERROR", {"status": "COMPLETED", "results": {"result": 2}}),
]


@pytest.mark.parametrize(
    ("current", "change"), FORBIDDEN_CHANGES,
    ids=[f"{current}-{change['status']}" for current, change in FORBIDDEN_CHANGES],
)
def test_forbidden_status_change(
    http: httpx.Client, service_id: str, current: str, change: dict[str, Any]
) -> None:
    job = job_in(http, service_id, current)

    response = http.patch(f"/jobs/{job['id']}", json=change)

    entries = error_entries(response, 409)
    assert titles(entries) == {"Status Change Not Allowed"}
    assert current in details(entries)
    assert change["status"] in details(entries)
    assert read_job(http, job["id"]) == job


def test_completed_results_frozen(http: httpx.Client, service_id: str) -> None:
    job = job_in(http, service_id, "COMPLETED")

    response = http.patch(f"/jobs/{job['id']}", json={"results": {"result": 3}})

    entries = error_entries(response, 409)
    assert "COMPLETED" in details(entries)
    assert read_job(http, job["id"]) == job


@pytest.mark.parametrize("current", ["REGISTERED", "WORKING"])
def test_completed_needs_results(http: httpx.Client, service_id: str, current: str) -> None:
    job = job_in(http, service_id, current)

    response = http.patch(f"/jobs/{job['id']}", json={"status": "COMPLETED"})

    entries = error_entries(response, 400)
    assert titles(entries) == {"Results Required"}
    assert read_job(http, job["id"]) == job


def test_completed_with_stored_results(http: httpx.Client, service_id: str) -> None:
    job = job_in(http, service_id, "WORKING")
    patch_job(http, job["id"], {"results": {"result": 2}})

    completed = patch_job(http, job["id"], {"status": "COMPLETED"})

    assert completed["status"] == "COMPLETED"
    assert completed["results"] == {"result": 2}


@pytest.mark.parametrize("spelling", ["working", "Working", "wOrKiNg"])
def test_status_any_case(http: httpx.Client, service_id: str, spelling: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    patched = patch_job(http, job["id"], {"status": spelling})

    assert patched["status"] == "WORKING"
    assert read_job(http, job["id"])["status"] == "WORKING"


def test_null_leaves_as_is(http: httpx.Client, service_id: str) -> None:
    job = job_in(http, service_id, "WORKING")
    job = patch_job(http, job["id"], {"results": {"result": 1}})

    patched = patch_job(http, job["id"], {"status": None, "results": None})

    assert patched == job
    assert read_job(http, job["id"]) == job


# /validator

def test_validator_description(http: httpx.Client) -> None:
    response = http.get("/validator")

    assert response.status_code == 200
    assert response.json()["data"] == {}
    properties = response.json()["meta"]["validator_schema"]["properties"]
    assert set(properties) >= {"object", "schema"}


def test_validator_accepts(http: httpx.Client) -> None:
    response = http.post("/validator", json={"schema": {"type": "integer"}, "object": 1})

    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"status": "Validation was successful"}


def test_validator_lists_violations(http: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
    }

    response = http.post("/validator", json={"schema": schema, "object": {"a": "x", "b": 1}})

    entries = error_entries(response, 400)
    assert len(entries) == 2
    assert "/a" in entries[0]["detail"] + entries[1]["detail"]
    assert "/b" in entries[0]["detail"] + entries[1]["detail"]


# JSON Schema drafts selected by $schema. Each row is a schema, an instance and
# whether it validates (True), does not (False) or the schema is invalid (None)
# under that draft. The keywords chosen mean different things across drafts.

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT6 = "http://json-schema.org/draft-06/schema#"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2019 = "https://json-schema.org/draft/2019-09/schema"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"
GENERIC = "http://json-schema.org/schema#"

BOOLEAN_EXCLUSIVE = {"minimum": 5, "exclusiveMinimum": True}
NUMERIC_EXCLUSIVE = {"exclusiveMinimum": 5}
IF_THEN = {"if": {"required": ["a"]}, "then": {"required": ["b"]}}
DEPENDENT_REQUIRED = {"dependentRequired": {"a": ["b"]}}
PREFIX_ITEMS = {"prefixItems": [{"type": "integer"}]}
TUPLE_ITEMS = {"items": [{"type": "integer"}]}

DRAFT_CASES = [
    pytest.param(DRAFT4, BOOLEAN_EXCLUSIVE, 5, False, id="draft4-exclusive-boundary"),
    pytest.param(DRAFT4, BOOLEAN_EXCLUSIVE, 6, True, id="draft4-exclusive-above"),
    pytest.param(DRAFT4, NUMERIC_EXCLUSIVE, 6, None, id="draft4-numeric-exclusive"),
    pytest.param(DRAFT4, {"const": 1}, 2, True, id="draft4-const-unknown"),
    pytest.param(GENERIC, BOOLEAN_EXCLUSIVE, 5, False, id="generic-exclusive-boundary"),
    pytest.param(GENERIC, BOOLEAN_EXCLUSIVE, 6, True, id="generic-exclusive-above"),
    pytest.param(GENERIC, NUMERIC_EXCLUSIVE, 6, None, id="generic-numeric-exclusive"),
    pytest.param(None, BOOLEAN_EXCLUSIVE, 5, False, id="absent-exclusive-boundary"),
    pytest.param(DRAFT6, BOOLEAN_EXCLUSIVE, 6, None, id="draft6-boolean-exclusive"),
    pytest.param(DRAFT6, NUMERIC_EXCLUSIVE, 5, False, id="draft6-exclusive-boundary"),
    pytest.param(DRAFT6, NUMERIC_EXCLUSIVE, 5.5, True, id="draft6-exclusive-above"),
    pytest.param(DRAFT6, {"const": 1}, 2, False, id="draft6-const"),
    pytest.param(DRAFT6, IF_THEN, {"a": 1}, True, id="draft6-if-unknown"),
    pytest.param(DRAFT7, IF_THEN, {"a": 1}, False, id="draft7-if"),
    pytest.param(DRAFT7, DEPENDENT_REQUIRED, {"a": 1}, True, id="draft7-dependent-unknown"),
    pytest.param(DRAFT2019, DEPENDENT_REQUIRED, {"a": 1}, False, id="draft2019-dependent"),
    pytest.param(DRAFT2019, PREFIX_ITEMS, ["x"], True, id="draft2019-prefix-unknown"),
    pytest.param(DRAFT2019, TUPLE_ITEMS, ["x"], False, id="draft2019-tuple-items"),
    pytest.param(DRAFT2020, PREFIX_ITEMS, ["x"], False, id="draft2020-prefix"),
    pytest.param(DRAFT2020, TUPLE_ITEMS, ["x"], None, id="draft2020-tuple-items"),
]


def with_draft(draft: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    return schema if draft is None else {"$schema": draft, **schema}


@pytest.mark.parametrize(("draft", "schema", "instance", "valid"), DRAFT_CASES)
def test_validator_draft(
    http: httpx.Client, draft: str | None, schema: dict[str, Any], instance: Any,
    valid: bool | None,
) -> None:
    response = http.post(
        "/validator", json={"schema": with_draft(draft, schema), "object": instance}
    )

    if valid:
        assert response.status_code == 200, response.text
    elif valid is False:
        assert titles(error_entries(response, 400)) == {"Schema Violation"}
    else:
        assert titles(error_entries(response, 400)) == {"Invalid Schema"}


@pytest.mark.parametrize(("draft", "schema", "instance", "valid"), DRAFT_CASES)
def test_service_draft(
    http: httpx.Client, draft: str | None, schema: dict[str, Any], instance: Any,
    valid: bool | None,
) -> None:
    registration_schema = with_draft(draft, {"type": "object", "properties": {"x": schema}})
    created = http.post("/services", json={
        "name": "draft", "description": "", "job_registration_schema": registration_schema,
        "job_result_schema": {},
    })
    if valid is None:
        assert titles(error_entries(created, 400)) == {"Invalid Schema"}
        return
    assert created.status_code == 201, created.text

    service_id = created.json()["data"]["id"]
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": {"x": instance}})

    if valid:
        assert response.status_code == 201, response.text
    else:
        assert titles(error_entries(response, 400)) == {"Schema Violation"}


# Method override

def test_override_patch_on_post(http: httpx.Client, service_id: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.post(
        f"/jobs/{job['id']}", json={"status": "WORKING"}, headers={OVERRIDE_HEADER: "PATCH"}
    )

    assert response.status_code == 200, response.text
    assert read_job(http, job["id"])["status"] == "WORKING"


def test_override_ignored_on_get(http: httpx.Client, service_id: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.request(
        "GET", f"/jobs/{job['id']}", json={"status": "WORKING"},
        headers={OVERRIDE_HEADER: "PATCH"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"] == job
    assert read_job(http, job["id"]) == job


def test_override_ignored_on_put(http: httpx.Client, service_id: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.put(
        f"/jobs/{job['id']}", json={"status": "WORKING"}, headers={OVERRIDE_HEADER: "PATCH"}
    )

    error_entries(response, 405)
    assert read_job(http, job["id"]) == job


@pytest.mark.parametrize("method", ["FOO", "GET", ""])
def test_override_unknown_method(http: httpx.Client, service_id: str, method: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.post(
        f"/jobs/{job['id']}", json={"status": "WORKING"}, headers={OVERRIDE_HEADER: method}
    )

    assert titles(error_entries(response, 400)) == {"Invalid Method Override"}
    assert read_job(http, job["id"]) == job


# 405 and 404

# (path, a method the path does not take, methods it must keep taking).
# Methods that later versions may add (DELETE on one service or job, POST on
# /jobs/next) are left out.
NOT_ALLOWED = [
    ("/", "POST", {"GET"}),
    ("/", "DELETE", {"GET"}),
    ("/services", "PUT", {"GET", "POST"}),
    ("/services", "PATCH", {"GET", "POST"}),
    ("/services", "DELETE", {"GET", "POST"}),
    ("/services/{service}", "PUT", {"GET", "PATCH"}),
    ("/services/{service}", "POST", {"GET", "PATCH"}),
    ("/services/{service}/jobs", "PUT", {"GET", "POST"}),
    ("/services/{service}/jobs", "PATCH", {"GET", "POST"}),
    ("/services/{service}/queue", "POST", {"GET"}),
    ("/services/{service}/queue", "DELETE", {"GET"}),
    ("/services/{service}/jobs/next", "PUT", {"GET"}),
    ("/jobs", "POST", {"GET"}),
    ("/jobs", "PATCH", {"GET"}),
    ("/jobs/{job}", "PUT", {"GET", "PATCH"}),
    ("/jobs/{job}", "POST", {"GET", "PATCH"}),
    ("/validator", "PUT", {"GET", "POST"}),
    ("/validator", "PATCH", {"GET", "POST"}),
]


@pytest.mark.parametrize(
    ("path", "method", "allowed"), NOT_ALLOWED, ids=[f"{m}-{p}" for p, m, _ in NOT_ALLOWED]
)
def test_method_not_allowed(
    http: httpx.Client, service_id: str, path: str, method: str, allowed: set[str]
) -> None:
    job = submit_job(http, service_id, {"value": 1})
    url = path.format(service=service_id, job=job["id"])

    response = http.request(method, url, json={})

    entries = error_entries(response, 405)
    assert titles(entries) == {"Method Not Allowed"}
    allow = {name.strip().upper() for name in response.headers["allow"].split(",")}
    assert allow >= allowed
    assert method not in allow


@pytest.mark.parametrize("path", ["/nothing", "/services/{service}/nothing", "/jobs/{job}/x"])
def test_unknown_path(http: httpx.Client, service_id: str, path: str) -> None:
    job = submit_job(http, service_id, {"value": 1})

    response = http.get(path.format(service=service_id, job=job["id"]))

    error_entries(response, 404)


ID_PATHS = [
    ("GET", "/services/{id}", None),
    ("PATCH", "/services/{id}", {"name": "x"}),
    ("GET", "/services/{id}/jobs", None),
    ("POST", "/services/{id}/jobs", {"parameters": {"value": 1}}),
    ("GET", "/services/{id}/queue", None),
    ("GET", "/services/{id}/jobs/next", None),
    ("GET", "/jobs/{id}", None),
    ("PATCH", "/jobs/{id}", {"status": "WORKING"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_PATHS,
                         ids=[f"{m}-{p}" for m, p, _ in ID_PATHS])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", UNKNOWN_ID])
def test_bad_id_not_found(
    http: httpx.Client, method: str, path: str, body: Any, bad_id: str
) -> None:
    response = http.request(method, path.format(id=bad_id), json=body)

    entries = error_entries(response, 404)
    assert bad_id in details(entries)
