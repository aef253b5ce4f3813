"""Job lists newest first: ``order=newest`` on GET /jobs and GET /services/{id}/jobs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_contract import ADD_ONE

PAGE_SIZE = 2
JOB_COUNT = 5
LIST_PATHS = ["/jobs?service_id={service_id}", "/services/{service_id}/jobs"]


async def create_service(client: httpx.AsyncClient) -> str:
    response = await client.post("/services", json=ADD_ONE)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


async def submit(client: httpx.AsyncClient, service_id: str, value: int) -> str:
    response = await client.post(f"/services/{service_id}/jobs",
                                 json={"parameters": {"value": value}})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


async def read_pages(client: httpx.AsyncClient, url: str) -> list[list[dict[str, Any]]]:
    """Follow links.next from ``url`` and return every page."""
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        pages.append(response.json()["data"])
        next_url = response.json()["links"].get("next")
    return pages


@pytest.mark.parametrize("path", LIST_PATHS)
async def test_newest_first_pages(client: httpx.AsyncClient, path: str) -> None:
    service_id = await create_service(client)
    ids = [await submit(client, service_id, value) for value in range(JOB_COUNT)]
    url = path.format(service_id=service_id)
    separator = "&" if "?" in url else "?"

    pages = await read_pages(client, f"{url}{separator}order=newest&limit={PAGE_SIZE}")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [job["id"] for page in pages for job in page] == ids[::-1]


async def test_oldest_is_default_order(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    ids = [await submit(client, service_id, value) for value in range(3)]

    default = await read_pages(client, f"/jobs?service_id={service_id}&limit={PAGE_SIZE}")
    oldest = await read_pages(client, f"/jobs?service_id={service_id}&order=oldest&limit=2")

    assert [job["id"] for page in default for job in page] == ids
    assert [job["id"] for page in oldest for job in page] == ids


async def test_newest_skips_jobs_added_later(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    ids = [await submit(client, service_id, value) for value in range(4)]
    first = await client.get(f"/services/{service_id}/jobs?order=newest&limit={PAGE_SIZE}")
    await submit(client, service_id, 100)

    rest = await read_pages(client, first.json()["links"]["next"])

    seen = [job["id"] for job in first.json()["data"]] + [job["id"] for job in rest[0]]
    assert seen == ids[::-1]
    assert len(rest) == 1


async def test_newest_with_status_filter(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    ids = [await submit(client, service_id, value) for value in range(JOB_COUNT)]
    for job_id in ids[::2]:
        assert (await client.post(f"/jobs/{job_id}/cancel")).status_code == 200

    pages = await read_pages(client, f"/jobs?status=ERROR&order=newest&limit={PAGE_SIZE}")

    assert [job["id"] for page in pages for job in page] == ids[::2][::-1]


async def test_unknown_order_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs?order=sideways")

    assert response.status_code == 400
    assert "order=newest" in response.json()["errors"][0]["detail"]


async def test_cursor_of_other_order_is_400(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    for value in range(3):
        await submit(client, service_id, value)
    oldest = await client.get(f"/jobs?limit={PAGE_SIZE}")
    next_url = httpx.URL(oldest.json()["links"]["next"])

    response = await client.get("/jobs", params={"order": "newest", "limit": PAGE_SIZE,
                                                 "cursor": next_url.params["cursor"]})

    assert response.status_code == 400
    assert "order=oldest" in response.json()["errors"][0]["detail"]
