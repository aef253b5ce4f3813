"""Bad requests against a real server: each gets its 4xx error envelope and changes nothing.

Every case runs against a fresh service with one job in each status. The
test reads the service list, the job list, the service, its jobs, its queue
and every job before and after the bad request and requires them to be equal.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.classic import (
    INTEGER_RESULT_SCHEMA,
    INTEGER_VALUE_SCHEMA,
    OVERRIDE_HEADER,
    create_service,
    details,
    error_entries,
    patch_job,
    read_all_pages,
    read_job,
    submit_job,
    titles,
)

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
VALID_SERVICE = {
    "name": "bad input",
    "description": "",
    "job_registration_schema": INTEGER_VALUE_SCHEMA,
    "job_result_schema": INTEGER_RESULT_SCHEMA,
}


def service_with(**changes: Any) -> dict[str, Any]:
    """Return a valid POST /services body with ``changes`` applied. None drops a field."""
    body = {**VALID_SERVICE, **changes}
    return {name: value for name, value in body.items() if value is not None}


def service_without(field: str) -> dict[str, Any]:
    return {name: value for name, value in VALID_SERVICE.items() if name != field}


def case(
    case_id: str,
    method: str,
    path: str,
    request: dict[str, Any],
    status: int,
    title: str,
    fragment: str | None = None,
) -> Any:
    """One bad request: what to send, the status and title it must get, and a detail fragment.

    ``path`` may name {service}, {registered}, {working}, {completed}, {error}
    (the fixture's service and jobs) or {unknown} (a UUID that names nothing).
    """
    return pytest.param(method, path, request, status, title, fragment, id=case_id)


CASES = [
    # Bodies that are not JSON, or JSON that is not an object.
    case("services-form-as-json", "POST", "/services",
         {"content": b"name=x&description=y", "headers": JSON}, 400, "Request Not JSON",
         "name=x&description=y"),
    case("services-truncated-json", "POST", "/services",
         {"content": b'{"name": "x",', "headers": JSON}, 400, "Request Not JSON"),
    case("services-not-utf8", "POST", "/services",
         {"content": b"\xff\xfe", "headers": JSON}, 400, "Request Not JSON",
         "byte 0xff at offset 0"),
    case("services-not-utf8-in-string", "POST", "/services",
         {"content": b'{"name": "\xff"}', "headers": JSON}, 400, "Request Not JSON",
         "not valid UTF-8: byte 0xff at offset 10"),
    case("services-nan", "POST", "/services",
         {"content": b'{"name": NaN}', "headers": JSON}, 400, "Request Not JSON"),
    case("services-array", "POST", "/services", {"json": [VALID_SERVICE]},
         400, "Request Not JSON", "received array"),
    case("services-string", "POST", "/services", {"json": "Add One"},
         400, "Request Not JSON", "Add One"),
    case("services-null", "POST", "/services", {"content": b"null", "headers": JSON},
         400, "Request Not JSON"),
    case("services-empty", "POST", "/services", {"content": b"", "headers": JSON},
         400, "Request Not JSON"),
    case("job-form-as-json", "POST", "/services/{service}/jobs",
         {"content": b"parameters=value", "headers": JSON}, 400, "Request Not JSON",
         "parameters=value"),
    case("job-array", "POST", "/services/{service}/jobs",
         {"json": [{"parameters": {"value": 1}}]}, 400, "Request Not JSON"),
    case("job-patch-array", "PATCH", "/jobs/{registered}", {"json": ["WORKING"]},
         400, "Request Not JSON"),
    case("job-patch-empty", "PATCH", "/jobs/{registered}", {"content": b"", "headers": JSON},
         400, "Request Not JSON"),
    case("job-patch-form-as-json", "PATCH", "/jobs/{registered}",
         {"content": b"status=WORKING", "headers": JSON}, 400, "Request Not JSON",
         "status=WORKING"),
    case("service-patch-truncated", "PATCH", "/services/{service}",
         {"content": b"{", "headers": JSON}, 400, "Request Not JSON"),
    case("service-patch-number", "PATCH", "/services/{service}", {"json": 42},
         400, "Request Not JSON"),
    case("validator-not-json", "POST", "/validator", {"content": b"schema", "headers": JSON},
         400, "Request Not JSON"),

    # JSON sent with another content type, or none.
    case("services-text-plain", "POST", "/services",
         {"content": b'{"name": "x"}', "headers": {"Content-Type": "text/plain"}},
         400, "Request Not JSON", "text/plain"),
    case("services-form", "POST", "/services", {"data": {"name": "x"}},
         400, "Request Not JSON", "application/x-www-form-urlencoded"),
    case("services-no-content-type", "POST", "/services", {"content": b'{"name": "x"}'},
         400, "Request Not JSON", "no Content-Type"),
    case("job-form", "POST", "/services/{service}/jobs", {"data": {"parameters": "value"}},
         400, "Request Not JSON", "application/x-www-form-urlencoded"),
    case("job-patch-form", "PATCH", "/jobs/{registered}", {"data": {"status": "WORKING"}},
         400, "Request Not JSON", "application/x-www-form-urlencoded"),
    case("service-patch-text-plain", "PATCH", "/services/{service}",
         {"content": b'{"name": "x"}', "headers": {"Content-Type": "text/plain"}},
         400, "Request Not JSON", "text/plain"),
    case("validator-xml", "POST", "/validator",
         {"content": b"<schema/>", "headers": {"Content-Type": "application/xml"}},
         400, "Request Not JSON", "application/xml"),

    # Missing and mistyped fields.
    case("service-no-name", "POST", "/services", {"json": service_without("name")},
         400, "Invalid Request", '"name"'),
    case("service-no-description", "POST", "/services",
         {"json": service_without("description")}, 400, "Invalid Request", '"description"'),
    case("service-no-registration-schema", "POST", "/services",
         {"json": service_without("job_registration_schema")},
         400, "Invalid Request", '"job_registration_schema"'),
    case("service-no-result-schema", "POST", "/services",
         {"json": service_without("job_result_schema")},
         400, "Invalid Request", '"job_result_schema"'),
    case("service-name-number", "POST", "/services", {"json": service_with(name=5)},
         400, "Invalid Request", "/name"),
    case("service-description-null", "POST", "/services",
         {"json": {**VALID_SERVICE, "description": None}}, 400, "Invalid Request",
         "/description"),
    case("service-schema-string", "POST", "/services",
         {"json": service_with(job_result_schema="integer")},
         400, "Invalid Request", "/job_result_schema"),
    case("service-schema-array", "POST", "/services",
         {"json": service_with(job_registration_schema=[])},
         400, "Invalid Request", "/job_registration_schema"),
    case("service-schema-boolean", "POST", "/services",
         {"json": service_with(job_registration_schema=True)},
         400, "Invalid Request", "/job_registration_schema"),
    case("job-no-parameters", "POST", "/services/{service}/jobs", {"json": {}},
         400, "Invalid Request", '"parameters"'),
    case("job-parameters-misspelled", "POST", "/services/{service}/jobs",
         {"json": {"parameter": {"value": 1}}}, 400, "Invalid Request", '"parameters"'),
    case("job-status-number", "PATCH", "/jobs/{registered}", {"json": {"status": 5}},
         400, "Invalid Request", "/status"),
    case("job-status-boolean", "PATCH", "/jobs/{registered}", {"json": {"status": True}},
         400, "Invalid Request", "/status"),
    case("service-available-string", "PATCH", "/services/{service}",
         {"json": {"is_available": "yes"}}, 400, "Invalid Request", "/is_available"),
    case("service-timeout-zero", "PATCH", "/services/{service}", {"json": {"timeout": 0}},
         400, "Invalid Request", "/timeout"),
    case("service-timeout-negative", "PATCH", "/services/{service}", {"json": {"timeout": -5}},
         400, "Invalid Request", "/timeout"),
    case("service-timeout-fraction", "PATCH", "/services/{service}", {"json": {"timeout": 1.5}},
         400, "Invalid Request", "/timeout"),
    case("service-name-patch-number", "PATCH", "/services/{service}", {"json": {"name": 5}},
         400, "Invalid Request", "/name"),
    case("validator-no-object", "POST", "/validator", {"json": {"schema": {}}},
         400, "Invalid Request", '"object"'),
    case("validator-no-schema", "POST", "/validator", {"json": {"object": 1}},
         400, "Invalid Request", '"schema"'),
    case("validator-schema-string", "POST", "/validator",
         {"json": {"schema": "integer", "object": 1}}, 400, "Invalid Request", "/schema"),

    # Schemas that are not valid JSON Schemas.
    case("service-unknown-type", "POST", "/services",
         {"json": service_with(job_registration_schema={"type": "nonsense"})},
         400, "Invalid Schema", "job_registration_schema"),
    case("service-required-string", "POST", "/services",
         {"json": service_with(job_result_schema={"required": "value"})},
         400, "Invalid Schema", "job_result_schema"),
    case("service-minimum-string", "POST", "/services",
         {"json": service_with(
             job_registration_schema={"properties": {"value": {"minimum": "zero"}}})},
         400, "Invalid Schema", "/properties/value/minimum"),
    case("service-unknown-draft", "POST", "/services",
         {"json": service_with(
             job_registration_schema={"$schema": "http://example.com/my-draft"})},
         400, "Invalid Schema", "http://example.com/my-draft"),
    case("service-draft-number", "POST", "/services",
         {"json": service_with(job_registration_schema={"$schema": 4})},
         400, "Invalid Schema", "$schema"),
    case("service-dangling-ref", "POST", "/services",
         {"json": service_with(job_registration_schema={"$ref": "#/definitions/missing"})},
         400, "Invalid Schema", "job_registration_schema"),
    case("validator-unknown-type", "POST", "/validator",
         {"json": {"schema": {"type": "nonsense"}, "object": 1}}, 400, "Invalid Schema"),

    # Parameters and results that do not match their schemas.
    case("parameters-string-value", "POST", "/services/{service}/jobs",
         {"json": {"parameters": {"value": "1"}}}, 400, "Schema Violation", "/value"),
    case("parameters-fractional-value", "POST", "/services/{service}/jobs",
         {"json": {"parameters": {"value": 1.5}}}, 400, "Schema Violation", "/value"),
    case("parameters-empty", "POST", "/services/{service}/jobs", {"json": {"parameters": {}}},
         400, "Schema Violation", '"value"'),
    case("parameters-number", "POST", "/services/{service}/jobs", {"json": {"parameters": 1}},
         400, "Schema Violation", "object"),
    case("results-string", "PATCH", "/jobs/{working}", {"json": {"results": {"result": "2"}}},
         400, "Schema Violation", "/result"),
    case("results-empty-completing", "PATCH", "/jobs/{working}",
         {"json": {"status": "COMPLETED", "results": {}}}, 400, "Schema Violation", '"result"'),
    case("results-array-completing", "PATCH", "/jobs/{registered}",
         {"json": {"status": "COMPLETED", "results": [2]}}, 400, "Schema Violation"),
    case("validator-violation", "POST", "/validator",
         {"json": {"schema": {"type": "integer"}, "object": "1"}}, 400, "Schema Violation"),

    # Statuses that do not exist.
    case("status-unknown", "PATCH", "/jobs/{registered}", {"json": {"status": "DONE"}},
         400, "Invalid Status", "DONE"),
    case("status-empty", "PATCH", "/jobs/{registered}", {"json": {"status": ""}},
         400, "Invalid Status"),
    case("status-padded", "PATCH", "/jobs/{registered}", {"json": {"status": " WORKING"}},
         400, "Invalid Status"),

    # Status changes the lifecycle forbids.
    case("completed-to-working", "PATCH", "/jobs/{completed}", {"json": {"status": "WORKING"}},
         409, "Status Change Not Allowed", "WORKING"),
    case("completed-to-registered", "PATCH", "/jobs/{completed}",
         {"json": {"status": "REGISTERED"}}, 409, "Status Change Not Allowed", "REGISTERED"),
    case("completed-new-results", "PATCH", "/jobs/{completed}",
         {"json": {"results": {"result": 5}}}, 409, "Status Change Not Allowed", "COMPLETED"),
    case("error-to-working", "PATCH", "/jobs/{error}", {"json": {"status": "WORKING"}},
         409, "Status Change Not Allowed", "ERROR"),
    case("completed-without-results", "PATCH", "/jobs/{registered}",
         {"json": {"status": "COMPLETED"}}, 400, "Results Required"),

    # Read-only fields sent back changed.
    case("changed-id", "PATCH", "/jobs/{registered}",
         {"json": {"id": "{unknown}", "status": "WORKING"}}, 400, "Read-Only Field Changed",
         "id"),
    case("changed-parameters", "PATCH", "/jobs/{registered}",
         {"json": {"parameters": {"value": 2}, "status": "WORKING"}},
         400, "Read-Only Field Changed", "parameters"),
    case("changed-date", "PATCH", "/jobs/{registered}",
         {"json": {"date_submitted": "2017-08-15T18:29:07.902093+00:00", "status": "WORKING"}},
         400, "Read-Only Field Changed", "date_submitted"),
    case("date-not-timestamp", "PATCH", "/jobs/{registered}",
         {"json": {"date_submitted": "yesterday", "status": "WORKING"}},
         400, "Read-Only Field Changed", "yesterday"),

    # Method overrides the server does not support.
    case("override-unknown", "POST", "/jobs/{registered}",
         {"json": {"status": "WORKING"}, "headers": {OVERRIDE_HEADER: "FOO"}},
         400, "Invalid Method Override", "FOO"),
    case("override-connect", "POST", "/services/{service}",
         {"json": {"name": "x"}, "headers": {OVERRIDE_HEADER: "CONNECT"}},
         400, "Invalid Method Override", "CONNECT"),
    case("override-get-on-create", "POST", "/services",
         {"json": VALID_SERVICE, "headers": {OVERRIDE_HEADER: "GET"}},
         400, "Invalid Method Override", "GET"),

    # Ids that are not UUIDs, and UUIDs that name nothing.
    case("service-id-malformed", "GET", "/services/not-a-uuid", {}, 404, "Not Found",
         "not-a-uuid"),
    case("service-patch-id-malformed", "PATCH", "/services/not-a-uuid", {"json": {}},
         404, "Not Found", "not-a-uuid"),
    case("job-submit-id-malformed", "POST", "/services/not-a-uuid/jobs",
         {"json": {"parameters": {"value": 1}}}, 404, "Not Found", "not-a-uuid"),
    case("job-id-malformed", "GET", "/jobs/not-a-uuid", {}, 404, "Not Found", "not-a-uuid"),
    case("job-patch-id-malformed", "PATCH", "/jobs/12345", {"json": {"status": "WORKING"}},
         404, "Not Found", "12345"),
    case("service-unknown", "GET", "/services/{unknown}", {}, 404, "Service Not Found"),
    case("service-patch-unknown", "PATCH", "/services/{unknown}", {"json": {"name": "x"}},
         404, "Service Not Found"),
    case("job-submit-unknown", "POST", "/services/{unknown}/jobs",
         {"json": {"parameters": {"value": 1}}}, 404, "Service Not Found"),
    case("jobs-of-unknown", "GET", "/services/{unknown}/jobs", {}, 404, "Service Not Found"),
    case("queue-unknown", "GET", "/services/{unknown}/queue", {}, 404, "Service Not Found"),
    case("next-unknown", "GET", "/services/{unknown}/jobs/next", {}, 404, "Service Not Found"),
    case("job-unknown", "GET", "/jobs/{unknown}", {}, 404, "Job Not Found"),
    case("job-patch-unknown", "PATCH", "/jobs/{unknown}", {"json": {"status": "WORKING"}},
         404, "Job Not Found"),

    # Fields the contract does not have.
    case("service-extra-field", "POST", "/services", {"json": service_with(owner="lab")},
         400, "Invalid Request", "owner"),
    case("job-extra-field", "POST", "/services/{service}/jobs",
         {"json": {"parameters": {"value": 1}, "comment": "urgent"}},
         400, "Invalid Request", "comment"),
    case("job-patch-extra-field", "PATCH", "/jobs/{working}",
         {"json": {"status": "WORKING", "progress": 50}}, 400, "Invalid Request", "progress"),
    case("service-patch-extra-field", "PATCH", "/services/{service}",
         {"json": {"colour": "red"}}, 400, "Invalid Request", "colour"),
    case("validator-extra-field", "POST", "/validator",
         {"json": {"schema": {}, "object": 1, "draft": 4}}, 400, "Invalid Request", "draft"),
]


@pytest.fixture
def ids(http: httpx.Client) -> dict[str, str]:
    """A new service with one job in each status, and a UUID that names nothing."""
    service_id = create_service(http)
    registered = submit_job(http, service_id, {"value": 1})["id"]
    working = submit_job(http, service_id, {"value": 2})["id"]
    completed = submit_job(http, service_id, {"value": 3})["id"]
    error = submit_job(http, service_id, {"value": 4})["id"]
    for job_id in (working, completed, error):
        patch_job(http, job_id, {"status": "WORKING"})
    patch_job(http, completed, {"status": "COMPLETED", "results": {"result": 4}})
    patch_job(http, error, {"status": "ERROR"})
    return {
        "service": service_id, "registered": registered, "working": working,
        "completed": completed, "error": error, "unknown": str(uuid.uuid4()),
    }


def snapshot(http: httpx.Client, ids: dict[str, str]) -> dict[str, Any]:
    """Read everything a bad request could have changed, by path."""
    state: dict[str, Any] = {
        "/services": read_all_pages(http, "/services"),
        "/jobs": read_all_pages(http, "/jobs"),
    }

    service = ids["service"]
    paths = [f"/services/{service}", f"/services/{service}/jobs", f"/services/{service}/queue"]
    paths += [f"/jobs/{ids[status]}" for status in ("registered", "working", "completed",
                                                    "error")]
    for path in paths:
        response = http.get(path)
        assert response.status_code == 200, response.text
        state[path] = response.json()["data"]
    return state


def fill_ids(value: Any, ids: dict[str, str]) -> Any:
    """Return ``value`` with the id placeholders in its strings replaced, at any depth."""
    if isinstance(value, str):
        return value.format(**ids) if "{" in value and "}" in value else value
    if isinstance(value, dict):
        return {key: fill_ids(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_ids(item, ids) for item in value]
    return value


@pytest.mark.parametrize(("method", "path", "request_args", "status", "title", "fragment"), CASES)
def test_bad_request(
    http: httpx.Client,
    ids: dict[str, str],
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    title: str,
    fragment: str | None,
) -> None:
    check_rejected(http, ids, method, path, request_args, status, title, fragment)


def test_date_two_ms_off_rejected(http: httpx.Client, ids: dict[str, str]) -> None:
    job = read_job(http, ids["registered"])
    submitted = datetime.fromisoformat(job["date_submitted"])
    before = snapshot(http, ids)

    response = http.patch(f"/jobs/{job['id']}", json={
        **job, "status": "WORKING",
        "date_submitted": (submitted - timedelta(milliseconds=2)).isoformat(),
    })

    assert titles(error_entries(response, 400)) == {"Read-Only Field Changed"}
    assert snapshot(http, ids) == before


def test_two_invalid_schemas_both_listed(http: httpx.Client, ids: dict[str, str]) -> None:
    before = snapshot(http, ids)

    response = http.post("/services", json=service_with(
        job_registration_schema={"type": "nonsense"},
        job_result_schema={"required": "result"},
    ))

    entries = error_entries(response, 400)
    assert len(entries) == 2
    assert "job_registration_schema" in details(entries)
    assert "job_result_schema" in details(entries)
    assert snapshot(http, ids) == before


def check_rejected(
    http: httpx.Client,
    ids: dict[str, str],
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    title: str,
    fragment: str | None,
) -> None:
    """Send one bad request and check its 4xx error entries and that the store is unchanged."""
    arguments = {**request_args}
    if "json" in arguments:
        arguments["json"] = fill_ids(arguments["json"], ids)
    before = snapshot(http, ids)

    response = http.request(method, path.format(**ids), **arguments)

    assert response.status_code < 500, response.text
    entries = error_entries(response, status)
    assert title in titles(entries)
    if fragment is not None:
        assert fragment in details(entries)
    assert snapshot(http, ids) == before
