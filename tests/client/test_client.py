"""The blocking client against canned responses: requests sent, results read, errors raised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.client.fakes import (
    BASE_URL,
    JOB_ID,
    SERVICE_ID,
    Recorder,
    body_of,
    error,
    job_classic,
    job_full,
    ok,
    service_full,
)
from topchef.client import (
    BadRequestError,
    BatchSubmitError,
    Client,
    ConflictError,
    InvalidSchemaError,
    Job,
    JobCancelledError,
    JobNotFoundError,
    JobStatus,
    LeaseLostError,
    NotFoundError,
    RequestError,
    RequestTimeoutError,
    SchemaViolationError,
    ServerError,
    Service,
    ServiceNotFoundError,
    UnexpectedResponseError,
    WaitTimeoutError,
)

TIMESTAMP_LATER = "2026-12-04T21:08:25.579519+00:00"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[Client]:
    with Client(BASE_URL, transport=httpx.MockTransport(recorder)) as topchef:
        yield topchef


# Requests

def test_token_sent_as_bearer(recorder: Recorder) -> None:
    recorder.responses.append(ok([]))
    with Client(BASE_URL, "s3cret", transport=httpx.MockTransport(recorder)) as topchef:
        topchef.list_services()
    assert recorder.last.headers["Authorization"] == "Bearer s3cret"


def test_no_token_no_authorization(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok([]))
    client.list_services()
    assert "Authorization" not in recorder.last.headers


def test_invalid_url_rejected() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Client("127.0.0.1:5000")


# Services

def test_create_service_from_dicts(client: Client, recorder: Recorder) -> None:
    recorder.responses.extend([
        ok({"message": "service successfully created", "id": SERVICE_ID}, status_code=201),
        ok(service_full(lease_seconds=120)),
    ])
    service = client.create_service("Add One", description="Adds one",
                                    job_registration_schema={"type": "object"},
                                    job_result_schema={"type": "object"}, lease_seconds=120)

    create, read = recorder.requests
    assert create.method == "POST"
    assert create.url.path == "/services"
    assert body_of(create) == {"name": "Add One", "description": "Adds one",
                               "job_registration_schema": {"type": "object"},
                               "job_result_schema": {"type": "object"}, "lease_seconds": 120}
    assert read.url.path == f"/services/{SERVICE_ID}"
    assert read.url.params["view"] == "full"
    assert isinstance(service, Service)
    assert service.lease_seconds == 120


def test_create_service_from_files(client: Client, recorder: Recorder, tmp_path: Path) -> None:
    parameters = tmp_path / "parameters.json"
    parameters.write_text(json.dumps({"type": "object", "required": ["value"]}))
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"type": "object", "required": ["result"]}))
    recorder.responses.extend([ok({"id": SERVICE_ID}, status_code=201), ok(service_full())])

    client.create_service("Add One", job_registration_schema=parameters,
                          job_result_schema=str(results))

    sent = body_of(recorder.requests[0])
    assert sent["job_registration_schema"] == {"type": "object", "required": ["value"]}
    assert sent["job_result_schema"] == {"type": "object", "required": ["result"]}


def test_create_service_missing_file(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the schema file"):
        client.create_service("x", job_registration_schema=tmp_path / "none.json",
                              job_result_schema={})


def test_create_service_unknown_setting(client: Client) -> None:
    with pytest.raises(TypeError, match="lease_second"):
        client.create_service("x", job_registration_schema={}, job_result_schema={},
                              lease_second=5)


def test_create_service_invalid_schema(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(400, ("Invalid Schema", "job_result_schema is not valid")))
    with pytest.raises(InvalidSchemaError, match="job_result_schema is not valid"):
        client.create_service("x", job_registration_schema={}, job_result_schema={"type": 5})


def test_service_full_view_read(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(service_full()))
    service = client.get_service(SERVICE_ID)
    assert service.job_counts["COMPLETED"] == 1
    assert service.jobs[0].status is JobStatus.COMPLETED
    assert service.last_checked_in == datetime.fromisoformat("2026-12-04T21:07:25.533104+00:00")
    assert service.retention_seconds is None


def test_check_in_sends_no_body(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(service_full()))
    client.check_in(SERVICE_ID)
    assert recorder.last.method == "PATCH"
    assert recorder.last.content == b""
    assert "Content-Type" not in recorder.last.headers


def test_update_service_sends_changes(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(service_full(timeout=120)))
    service = client.update_service(SERVICE_ID, timeout=120, retention_seconds=None)
    assert body_of(recorder.last) == {"timeout": 120, "retention_seconds": None}
    assert service.timeout == 120


def test_update_service_needs_changes(client: Client) -> None:
    with pytest.raises(TypeError, match="check_in"):
        client.update_service(SERVICE_ID)


def test_delete_service_force(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(httpx.Response(204))
    client.delete_service(SERVICE_ID, force=True)
    assert recorder.last.method == "DELETE"
    assert recorder.last.url.params["force"] == "true"


def test_service_not_found_names_id(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Service Not Found", f"no service with id {SERVICE_ID}")))
    with pytest.raises(ServiceNotFoundError) as caught:
        client.get_service(SERVICE_ID)
    assert caught.value.resource_id == SERVICE_ID
    assert SERVICE_ID in str(caught.value)


def test_list_services(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok([{"id": SERVICE_ID, "name": "Add One", "description": "d"}]))
    (summary,) = client.list_services()
    assert summary.name == "Add One"


# Submitting jobs

def test_submit_with_priority_and_key(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_classic(), status_code=201))
    job = client.submit(SERVICE_ID, {"value": 41}, priority=5, idempotency_key="run-1")

    assert recorder.last.url.path == f"/services/{SERVICE_ID}/jobs"
    assert recorder.last.headers["Idempotency-Key"] == "run-1"
    assert body_of(recorder.last) == {"parameters": {"value": 41}, "priority": 5}
    assert job.priority == 5
    assert job.service_id == SERVICE_ID
    assert job.attempt == 0


def test_submit_replay_reads_job(client: Client, recorder: Recorder) -> None:
    recorder.responses.extend([
        ok(job_classic(status="COMPLETED"), headers={"Idempotent-Replayed": "true"}),
        ok(job_full(status="COMPLETED", results={"result": 42}, attempt=1)),
    ])
    job = client.submit(SERVICE_ID, {"value": 41}, idempotency_key="run-1")
    assert recorder.last.url.path == f"/jobs/{JOB_ID}"
    assert job.results == {"result": 42}


def test_submit_violations_carry_paths(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(
        400,
        ("Schema Violation", 'parameters at the top level: "value" is a required property'),
        ("Schema Violation", 'parameters at /b: "long" is longer than 2 characters'),
    ))
    with pytest.raises(SchemaViolationError) as caught:
        client.submit(SERVICE_ID, {"b": "long"})

    first, second = caught.value.violations
    assert (first.subject, first.path) == ("parameters", "")
    assert first.message == '"value" is a required property'
    assert (second.subject, second.path) == ("parameters", "/b")
    assert "2 schema violations" in str(caught.value)
    assert isinstance(caught.value, BadRequestError)


def test_submit_many_chunks(client: Client, recorder: Recorder) -> None:
    def created(request: httpx.Request) -> httpx.Response:
        jobs = body_of(request)["jobs"]
        return ok([job_classic(f"job-{i}", parameters=item["parameters"])
                   for i, item in enumerate(jobs)], status_code=201)

    recorder.responses.extend([created, created, created])
    progress: list[int] = []
    jobs = client.submit_many(SERVICE_ID, ({"value": v} for v in range(2500)),
                              progress=progress.append)

    sizes = [len(body_of(request)["jobs"]) for request in recorder.requests]
    assert sizes == [1000, 1000, 500]
    assert progress == [1000, 1000, 500]
    assert [job.parameters["value"] for job in jobs] == list(range(2500))
    assert recorder.last.url.path == f"/services/{SERVICE_ID}/jobs/batch"


def test_submit_many_chunk_size_checked(client: Client) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        client.submit_many(SERVICE_ID, [{}], chunk_size=1001)


def test_submit_many_later_chunk_fails(client: Client, recorder: Recorder) -> None:
    recorder.responses.extend([
        ok([job_classic(f"job-{i}") for i in range(2)], status_code=201),
        error(400, ("Schema Violation", 'jobs/1/parameters at /value: "x" is not of type')),
    ])
    with pytest.raises(BatchSubmitError) as caught:
        client.submit_many(SERVICE_ID, [{"value": 1}, {"value": 2}, {}, {"value": "x"}],
                           chunk_size=2)

    assert len(caught.value.submitted) == 2
    assert caught.value.failed_at == 2
    assert isinstance(caught.value.error, SchemaViolationError)
    (violation,) = caught.value.error.violations
    assert violation.subject == "jobs/3/parameters"


def test_submit_many_first_chunk_fails(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Service Not Found", "no service")))
    with pytest.raises(ServiceNotFoundError):
        client.submit_many(SERVICE_ID, [{"value": 1}])


# Reading and listing jobs

def test_get_job_full_view(client: Client, recorder: Recorder) -> None:
    lease = {"expires_at": TIMESTAMP_LATER, "worker": "w", "attempt": 1}
    recorder.responses.append(ok(job_full(status="WORKING", attempt=1, worker="w", lease=lease)))
    job = client.get_job(JOB_ID)
    assert recorder.last.url.params["view"] == "full"
    assert job.status is JobStatus.WORKING
    assert job.lease is not None
    assert job.lease.token is None
    assert job.lease.worker == "w"



def test_job_is_frozen(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full()))
    job = client.get_job(JOB_ID)
    with pytest.raises(AttributeError):
        job.status = JobStatus.ERROR  # type: ignore[misc]


def test_job_not_found_names_id(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Job Not Found", f"no job with id {JOB_ID} exists")))
    with pytest.raises(JobNotFoundError) as caught:
        client.get_job(JOB_ID)
    assert caught.value.resource_id == JOB_ID
    assert str(caught.value).startswith(f"job {JOB_ID} not found")


def test_malformed_id_not_found(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Not Found", "no resource at /jobs/abc")))
    with pytest.raises(JobNotFoundError) as caught:
        client.get_job("abc")
    assert caught.value.resource_id == "abc"


def test_id_escaped_in_path(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Not Found", "no resource")))
    with pytest.raises(NotFoundError):
        client.get_job("../services")
    assert recorder.last.url.raw_path.startswith(b"/jobs/..%2Fservices")


def test_list_jobs_follows_next(client: Client, recorder: Recorder) -> None:
    next_url = "http://elsewhere.example/jobs?view=full&limit=2&status=COMPLETED&cursor=abc"
    recorder.responses.extend([
        ok([job_full("a"), job_full("b")], links={"next": next_url}),
        ok([job_full("c")]),
    ])
    ids = [job.id for job in client.list_jobs(status="completed", page_size=2)]

    first, second = recorder.requests
    assert ids == ["a", "b", "c"]
    assert first.url.params["status"] == "COMPLETED"
    assert first.url.params["limit"] == "2"
    assert second.url.host == "topchef.test"
    assert second.url.params["cursor"] == "abc"


def test_list_jobs_lazy(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok([job_full("a")], links={"next": f"{BASE_URL}/jobs?cursor=x"}))
    first = next(client.list_jobs())
    assert first.id == "a"
    assert len(recorder.requests) == 1


def test_list_jobs_filters(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok([]))
    list(client.list_jobs(service_id=SERVICE_ID, status=[JobStatus.REGISTERED, "working"]))
    params = recorder.last.url.params
    assert params["service_id"] == SERVICE_ID
    assert params["status"] == "REGISTERED,WORKING"


def test_list_jobs_unknown_service(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(404, ("Service Not Found", "no service")))
    with pytest.raises(ServiceNotFoundError) as caught:
        list(client.list_jobs(service_id=SERVICE_ID))
    assert caught.value.resource_id == SERVICE_ID


# Waiting

def test_wait_long_polls_until_finished(client: Client, recorder: Recorder) -> None:
    recorder.responses.extend([
        ok(job_full(status="WORKING")),
        ok(job_full(status="COMPLETED", results={"result": 42})),
    ])
    job = client.wait(JOB_ID)

    assert job.results == {"result": 42}
    assert [float(r.url.params["wait_seconds"]) for r in recorder.requests] == [30.0, 30.0]


def test_wait_read_timeout_exceeds_wait(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full(status="COMPLETED")))
    client.wait(JOB_ID)
    assert recorder.last.extensions["timeout"]["read"] > 30


def test_wait_times_out(client: Client, recorder: Recorder) -> None:
    recorder.responses.extend([ok(job_full(status="WORKING")), ok(job_full(status="WORKING"))])
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait(JOB_ID, timeout=0)
    assert caught.value.job.status is JobStatus.WORKING
    assert isinstance(caught.value, TimeoutError)
    assert "wait_seconds" not in recorder.last.url.params


def test_wait_finished_job_at_once(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full(status="ERROR", error="boom")))
    assert client.wait(JOB_ID, timeout=0).error == "boom"


# Cancel and delete

def test_cancel(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full(status="WORKING", cancel_requested=True),
                                 status_code=202))
    job = client.cancel(JOB_ID)
    assert recorder.last.url.path == f"/jobs/{JOB_ID}/cancel"
    assert job.cancel_requested


def test_delete_working_job_conflict(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(409, ("Job Is Working", "cancel it first")))
    with pytest.raises(ConflictError) as caught:
        client.delete_job(JOB_ID)
    assert caught.value.title == "Job Is Working"
    assert caught.value.status_code == 409


# The worker's side

def test_claim_sends_limit_and_reads_list(client: Client, recorder: Recorder) -> None:
    lease = {"token": "t0k", "expires_at": TIMESTAMP_LATER, "worker": "w", "attempt": 1}
    recorder.responses.append(ok([job_full(status="WORKING", lease=lease, attempt=1)]))
    (job,) = client.claim(SERVICE_ID, worker="w", lease_seconds=30, wait_seconds=5, limit=2)

    assert body_of(recorder.last) == {"worker": "w", "lease_seconds": 30, "wait_seconds": 5,
                                      "limit": 2}
    assert recorder.last.extensions["timeout"]["read"] == 15
    assert job.lease is not None
    assert job.lease.token == "t0k"


def test_claim_empty_queue(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(httpx.Response(204))
    assert client.claim(SERVICE_ID) == []


def test_complete_sends_lease(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full(status="COMPLETED", results={"result": 2})))
    client.complete(JOB_ID, {"result": 2}, lease="t0k")
    assert recorder.last.method == "PATCH"
    assert body_of(recorder.last) == {"status": "COMPLETED", "results": {"result": 2},
                                      "lease": "t0k"}


def test_release_sends_registered(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full()))
    client.release(JOB_ID, lease="t0k")
    assert body_of(recorder.last) == {"status": "REGISTERED", "lease": "t0k"}


def test_fail_sends_retry(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok(job_full(error="boom")))
    client.fail(JOB_ID, "boom", lease="t0k", retry=True)
    assert body_of(recorder.last) == {"error": "boom", "retry": True, "lease": "t0k"}


@pytest.mark.parametrize(("title", "expected"), [
    ("Lease Lost", LeaseLostError),
    ("Job Cancelled", JobCancelledError),
    ("Status Change Not Allowed", ConflictError),
])
def test_heartbeat_conflicts(client: Client, recorder: Recorder, title: str,
                             expected: type[Exception]) -> None:
    recorder.responses.append(error(409, (title, "stop")))
    with pytest.raises(expected):
        client.heartbeat(JOB_ID, "t0k", lease_seconds=60)
    assert body_of(recorder.last) == {"lease": "t0k", "lease_seconds": 60}


# Transport and server failures

def test_unreachable_server_raises_request_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Client(BASE_URL, transport=httpx.MockTransport(refuse)) as topchef, \
            pytest.raises(RequestError) as caught:
        topchef.list_services()
    assert "connection refused" in str(caught.value)
    assert BASE_URL in str(caught.value)
    assert not isinstance(caught.value, RequestTimeoutError)


def test_read_timeout_raises_timeout_error() -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with Client(BASE_URL, transport=httpx.MockTransport(stall)) as topchef, \
            pytest.raises(RequestTimeoutError, match="timed out"):
        topchef.get_job(JOB_ID)


def test_server_error_5xx(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(error(503, ("Service Unavailable", "database down")))
    with pytest.raises(ServerError) as caught:
        client.get_job(JOB_ID)
    assert caught.value.status_code == 503


def test_error_body_not_json(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(ServerError, match="Bad Gateway"):
        client.get_job(JOB_ID)


def test_success_body_not_envelope(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(httpx.Response(200, text="hello"))
    with pytest.raises(UnexpectedResponseError, match="hello"):
        client.get_job(JOB_ID)


def test_success_data_unreadable(client: Client, recorder: Recorder) -> None:
    recorder.responses.append(ok({"id": JOB_ID}))
    with pytest.raises(UnexpectedResponseError, match="cannot read"):
        client.get_job(JOB_ID)


def test_job_from_json_round_trip() -> None:
    job = Job.from_json(job_full(status="COMPLETED", date_finished=TIMESTAMP_LATER))
    assert job.is_finished
    assert job.date_finished is not None
