"""The classic contract on both stores, through the ASGI app in process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ADD_ONE = {
    "name": "Add One",
    "description": "Adds one to a given number",
    "job_registration_schema": {
        "type": "object",
        "properties": {"value": {"type": "integer"}},
        "required": ["value"],
    },
    "job_result_schema": {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    },
}

JOB_FIELDS = {"id", "status", "parameters", "results", "date_submitted"}
JOB_OVERVIEW_FIELDS = {"id", "status", "date_submitted"}
SERVICE_FIELDS = {
    "id", "name", "description", "job_registration_schema", "job_result_schema",
    "is_service_available", "has_timed_out", "timeout", "jobs",
}


async def create_service(client: httpx.AsyncClient, **changes: Any) -> str:
    response = await client.post("/services", json={**ADD_ONE, **changes})
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


async def submit(client: httpx.AsyncClient, service_id: str, value: int) -> dict[str, Any]:
    body = {"parameters": {"value": value}}
    response = await client.post(f"/services/{service_id}/jobs", json=body)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


async def test_service_detail_strict_fields(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    await submit(client, service_id, 1)

    body = (await client.get(f"/services/{service_id}")).json()

    assert set(body) == {"data", "meta", "links"}
    assert set(body["data"]) == SERVICE_FIELDS
    assert set(body["data"]["jobs"][0]) == JOB_OVERVIEW_FIELDS
    assert body["data"]["timeout"] == 30
    assert body["data"]["is_service_available"] is True
    assert body["data"]["has_timed_out"] is False


async def test_job_cycle_to_completed(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    job = await submit(client, service_id, 1)

    working = await client.patch(f"/jobs/{job['id']}", json={"status": "working"})
    done = await client.patch(
        f"/jobs/{job['id']}", json={"status": "COMPLETED", "results": {"result": 2}}
    )
    stored = (await client.get(f"/jobs/{job['id']}")).json()["data"]

    assert working.status_code == 200
    assert done.status_code == 200
    assert set(stored) == JOB_FIELDS
    assert stored["status"] == "COMPLETED"
    assert stored["results"] == {"result": 2}


async def test_queue_is_fifo(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    submitted = [(await submit(client, service_id, value))["id"] for value in range(12)]

    queue = (await client.get(f"/services/{service_id}/queue")).json()["data"]
    next_job = (await client.get(f"/services/{service_id}/jobs/next")).json()["data"]

    assert [job["id"] for job in queue] == submitted[:10]
    assert next_job["id"] == submitted[0]


async def test_empty_queue_is_204(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)

    queue = await client.get(f"/services/{service_id}/queue")
    next_job = await client.get(f"/services/{service_id}/jobs/next")

    assert queue.status_code == 204
    assert queue.content == b""
    assert next_job.status_code == 204
    assert next_job.content == b""


async def test_invalid_parameters_store_nothing(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)

    response = await client.post(
        f"/services/{service_id}/jobs", json={"parameters": {"value": "1"}}
    )
    jobs = (await client.get("/jobs")).json()["data"]

    assert response.status_code == 400
    assert "/value" in response.json()["errors"][0]["detail"]
    assert jobs == []


async def test_completed_is_final(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    job = await submit(client, service_id, 1)
    await client.patch(f"/jobs/{job['id']}", json={"status": "COMPLETED", "results": {"result": 2}})

    back = await client.patch(f"/jobs/{job['id']}", json={"status": "REGISTERED"})

    assert back.status_code == 409
    assert "COMPLETED" in back.json()["errors"][0]["detail"]
    assert "REGISTERED" in back.json()["errors"][0]["detail"]


async def test_check_in_without_body(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client, timeout=5)

    response = await client.post(
        f"/services/{service_id}", headers={"X-HTTP-Method-Override": "PATCH"}
    )

    assert response.status_code == 200
    assert response.json()["data"]["timeout"] == 5


@pytest.mark.parametrize("path", ["/services/not-a-uuid", "/jobs/42",
                                  "/services/00000000-0000-0000-0000-000000000000"])
async def test_unknown_ids_are_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json()["errors"][0]["status_code"] == 404


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/services")

    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert response.json()["errors"][0]["title"] == "Method Not Allowed"


async def test_views_match_published_schemas(client: httpx.AsyncClient) -> None:
    from topchef.broker.schemas import CompiledSchema

    service_id = await create_service(client)
    job = await submit(client, service_id, 1)
    await client.post(f"/services/{service_id}/jobs/next", json={"worker": "w"})

    for path, schema_key in [
        (f"/jobs/{job['id']}", "job_info_schema"),
        (f"/jobs/{job['id']}?view=full", "job_info_schema"),
        (f"/services/{service_id}", "service_schema"),
        (f"/services/{service_id}?view=full", "service_schema"),
    ]:
        body = (await client.get(path)).json()
        violations = CompiledSchema(body["meta"][schema_key]).violations(body["data"])
        assert violations == [], f"{path}: {violations}"


@pytest.mark.parametrize(
    ("setting", "value"),
    [("timeout", 2**31), ("max_attempts", 1001), ("retention_seconds", 2**63),
     ("retry_delay_seconds", 1e308), ("retry_delay_max_seconds", 7 * 86_400 + 1)],
)
async def test_oversized_settings_rejected(
    client: httpx.AsyncClient, setting: str, value: float
) -> None:
    response = await client.post("/services", json={**ADD_ONE, setting: value})
    services = (await client.get("/services")).json()["data"]

    assert response.status_code == 400
    assert f"/{setting}" in response.json()["errors"][0]["detail"]
    assert services == []


async def test_patch_with_bad_view_changes_nothing(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client, timeout=30)

    response = await client.patch(f"/services/{service_id}?view=bogus", json={"timeout": 5})
    service = (await client.get(f"/services/{service_id}")).json()["data"]

    assert response.status_code == 400
    assert service["timeout"] == 30


async def test_concurrent_idempotent_submits(client: httpx.AsyncClient) -> None:
    import asyncio

    service_id = await create_service(client)
    body = {"parameters": {"value": 7}}
    headers = {"Idempotency-Key": "same-key"}

    responses = await asyncio.gather(*(
        client.post(f"/services/{service_id}/jobs", json=body, headers=headers)
        for _ in range(8)
    ))
    jobs = (await client.get(f"/services/{service_id}/jobs")).json()["data"]

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert len(jobs) == 1


async def test_submit_full_view(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)

    single = await client.post(f"/services/{service_id}/jobs?view=full",
                               json={"parameters": {"value": 1}, "priority": 3})
    batch = await client.post(f"/services/{service_id}/jobs/batch?view=full",
                              json={"jobs": [{"parameters": {"value": 2}}]})

    assert single.status_code == 201
    assert single.json()["data"]["priority"] == 3
    assert single.json()["data"]["service_id"] == service_id
    assert batch.json()["data"][0]["attempt"] == 0
