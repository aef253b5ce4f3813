"""The asyncio client runs the same operations as the blocking one; these check the shell."""

from __future__ import annotations

import inspect

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
    AsyncClient,
    BatchSubmitError,
    Client,
    JobStatus,
    RequestError,
    SchemaViolationError,
    WaitTimeoutError,
)


def _client(recorder: Recorder, token: str | None = None) -> AsyncClient:
    return AsyncClient(BASE_URL, token, transport=httpx.MockTransport(recorder))


async def test_async_token_and_service() -> None:
    recorder = Recorder(ok({"id": SERVICE_ID}, status_code=201), ok(service_full()))
    async with _client(recorder, "s3cret") as topchef:
        service = await topchef.create_service("Add One", job_registration_schema={},
                                               job_result_schema={})
    assert service.id == SERVICE_ID
    assert all(r.headers["Authorization"] == "Bearer s3cret" for r in recorder.requests)


async def test_async_list_jobs_pages() -> None:
    recorder = Recorder(ok([job_full("a")], links={"next": f"{BASE_URL}/jobs?cursor=c1"}),
                        ok([job_full("b")]))
    async with _client(recorder) as topchef:
        ids = [job.id async for job in topchef.list_jobs()]
    assert ids == ["a", "b"]
    assert recorder.last.url.params["cursor"] == "c1"


async def test_async_wait_and_timeout() -> None:
    recorder = Recorder(ok(job_full(status="WORKING")), ok(job_full(status="COMPLETED")),
                        ok(job_full(status="WORKING")))
    async with _client(recorder) as topchef:
        finished = await topchef.wait(JOB_ID)
        with pytest.raises(WaitTimeoutError):
            await topchef.wait(JOB_ID, timeout=0)
    assert finished.status is JobStatus.COMPLETED


async def test_async_violation_and_batch() -> None:
    recorder = Recorder(
        ok([job_classic("a")], status_code=201),
        error(400, ("Schema Violation", "jobs/0/parameters at /value: wrong")),
    )
    async with _client(recorder) as topchef:
        with pytest.raises(BatchSubmitError) as caught:
            await topchef.submit_many(SERVICE_ID, [{"value": 1}, {"value": "x"}], chunk_size=1)
    assert isinstance(caught.value.error, SchemaViolationError)
    assert caught.value.error.violations[0].subject == "jobs/1/parameters"


async def test_async_claim_heartbeat_complete() -> None:
    lease = {"token": "t", "expires_at": "2026-12-04T21:08:25+00:00", "worker": "w",
             "attempt": 1}
    recorder = Recorder(ok([job_full(status="WORKING", lease=lease)]),
                        ok(job_full(status="WORKING", lease=lease)),
                        ok(job_full(status="COMPLETED", results={"result": 1})))
    async with _client(recorder) as topchef:
        (job,) = await topchef.claim(SERVICE_ID, wait_seconds=1)
        await topchef.heartbeat(job.id, "t")
        done = await topchef.complete(job.id, {"result": 1}, lease="t")
    assert done.results == {"result": 1}
    assert body_of(recorder.requests[1]) == {"lease": "t"}


async def test_async_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with AsyncClient(BASE_URL, transport=httpx.MockTransport(refuse)) as topchef:
        with pytest.raises(RequestError, match="connection refused"):
            await topchef.get_service(SERVICE_ID)


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def test_shells_have_same_methods() -> None:
    sync = _public_methods(Client)
    asynchronous = _public_methods(AsyncClient)
    sync.pop("close")
    asynchronous.pop("aclose")
    assert sync.keys() == asynchronous.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(asynchronous[name].parameters), name
        for parameter, expected in signature.parameters.items():
            assert asynchronous[name].parameters[parameter].default == expected.default, name


def test_async_methods_are_coroutines() -> None:
    for name in _public_methods(AsyncClient):
        member = getattr(AsyncClient, name)
        if name == "list_jobs":
            assert inspect.isasyncgenfunction(member)
        else:
            assert inspect.iscoroutinefunction(member), name
