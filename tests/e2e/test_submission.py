"""Submission extras against a real server: idempotency keys, batches and paging."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.classic import details, error_entries, read_all_pages
from tests.e2e.dispatching import MAX_BATCH_JOBS, create_service_with, submit

pytestmark = pytest.mark.e2e

INITIAL_JOBS = 25
PAGE_SIZE = 10
JOBS_ADDED_PER_PAGE = 3
MAX_PAGES = 50
INVALID_BATCH_INDEX = 2


def test_idempotency_key_replays_job(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"parameters": {"value": 1}, "priority": 2}

    first = http.post(f"/services/{service_id}/jobs", json=body, headers=headers)
    second = http.post(f"/services/{service_id}/jobs", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert second.status_code == 200, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["data"]["id"] == first.json()["data"]["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert len(read_all_pages(http, f"/services/{service_id}/jobs")) == 1


def test_idempotency_key_reuse_conflict(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    headers = {"Idempotency-Key": str(uuid.uuid4())}

    first = http.post(f"/services/{service_id}/jobs", json={"parameters": {"value": 1}},
                      headers=headers)
    reused = http.post(f"/services/{service_id}/jobs", json={"parameters": {"value": 2}},
                       headers=headers)

    assert first.status_code == 201, first.text
    entries = error_entries(reused, 409)
    assert first.json()["data"]["id"] in details(entries)
    jobs = read_all_pages(http, f"/services/{service_id}/jobs")
    assert [job["parameters"] for job in jobs] == [{"value": 1}]


def test_idempotency_key_per_service(http: httpx.Client) -> None:
    first_service = create_service_with(http)
    second_service = create_service_with(http)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"parameters": {"value": 1}}

    first = http.post(f"/services/{first_service}/jobs", json=body, headers=headers)
    second = http.post(f"/services/{second_service}/jobs", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["data"]["id"] != first.json()["data"]["id"]


def test_batch_creates_jobs_in_order(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    jobs = [{"parameters": {"value": value}, "priority": value} for value in range(5)]

    response = http.post(f"/services/{service_id}/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert [job["parameters"] for job in created] == [job["parameters"] for job in jobs]
    listed = read_all_pages(http, f"/services/{service_id}/jobs?view=full")
    assert [job["id"] for job in listed] == [job["id"] for job in created]
    assert [job["priority"] for job in listed] == [job["priority"] for job in jobs]


def test_batch_invalid_job_stores_none(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    jobs: list[dict[str, Any]] = [{"parameters": {"value": value}} for value in range(4)]
    jobs[INVALID_BATCH_INDEX] = {"parameters": {"value": "two"}}

    response = http.post(f"/services/{service_id}/jobs/batch", json={"jobs": jobs})

    entries = error_entries(response, 400)
    assert f"jobs/{INVALID_BATCH_INDEX}/parameters" in details(entries)
    assert "jobs/0/" not in details(entries)
    assert read_all_pages(http, f"/services/{service_id}/jobs") == []
    assert http.get(f"/services/{service_id}/queue").status_code == 204


def test_batch_too_large_rejected(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    jobs = [{"parameters": {"value": value}} for value in range(MAX_BATCH_JOBS + 1)]

    response = http.post(f"/services/{service_id}/jobs/batch", json={"jobs": jobs})

    error_entries(response, 400)
    assert read_all_pages(http, f"/services/{service_id}/jobs") == []


@pytest.mark.parametrize("path", ["/services/{service_id}/jobs", "/jobs?service_id={service_id}"])
def test_paging_while_jobs_added(http: httpx.Client, path: str) -> None:
    service_id = create_service_with(http)
    for value in range(INITIAL_JOBS):
        submit(http, service_id, value)
    first_page = path.format(service_id=service_id)
    separator = "&" if "?" in first_page else "?"
    url: str | None = f"{first_page}{separator}limit={PAGE_SIZE}"
    seen: list[str] = []

    for _ in range(MAX_PAGES):
        assert url is not None
        response = http.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= PAGE_SIZE
        seen.extend(job["id"] for job in page["data"])
        url = page["links"].get("next")
        if url is None:
            break
        for value in range(JOBS_ADDED_PER_PAGE):
            submit(http, service_id, 1000 + value)

    assert url is None
    assert len(seen) == len(set(seen))
    every_job = [job["id"] for job in read_all_pages(http, first_page)]
    assert seen == every_job


def test_paging_status_filter(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    ids = [submit(http, service_id, value) for value in range(6)]
    cancelled = ids[1::2]
    for job_id in cancelled:
        assert http.post(f"/jobs/{job_id}/cancel").status_code == 200

    errors = read_all_pages(http, f"/services/{service_id}/jobs?status=error&limit=2")
    both = read_all_pages(http, f"/services/{service_id}/jobs?status=REGISTERED,ERROR&limit=4")

    assert [job["id"] for job in errors] == cancelled
    assert [job["id"] for job in both] == ids
