"""Claims against a real server: exactly-once under concurrency, long polls, order and fairness.

Most claims take the highest priority first, FIFO among equal priorities.
A 10% share of claims takes the oldest job whatever its priority, so a
low-priority job is still served under a steady stream of high-priority ones.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.classic import read_all_pages
from tests.e2e.conftest import ServerProcess
from tests.e2e.dispatching import (
    claim,
    claim_job,
    complete,
    create_service_with,
    read_full_job,
    submit,
    submit_batches,
)

pytestmark = pytest.mark.e2e

CLAIMER_COUNT = 8
CONCURRENT_JOB_COUNT = 2000
CLAIMER_TIMEOUT_SECONDS = 300
"""Upper bound for the whole concurrent run, so a hung server fails the test instead of hanging."""
COMPLETED_PAGE_SIZE = 500

LONG_POLL_SECONDS = 10
LONG_POLL_MAX_DELAY_SECONDS = 5
WAITER_HEAD_START_SECONDS = 0.5
"""How long the long-polling claim runs before the job is submitted. The server
exposes no count of waiting claims, so the test cannot await the wait itself."""

ABANDONED_WAIT_SECONDS = 5
IMPATIENT_CLIENT_TIMEOUT_SECONDS = 1
"""Shorter than ABANDONED_WAIT_SECONDS, so the client gives up while the server still waits."""

HIGH_PRIORITY = 10
FAIRNESS_BACKLOG = 5
FAIRNESS_MAX_CLAIMS = 300
"""With 10% of claims taking the oldest job, 300 claims all miss it with
probability 0.9 ** 300, about 2e-14."""

QUEUE_PRIORITIES = [0, 1, 0, 5, 1, 5, 0, 5, 1, 5]
"""Priorities of the jobs in submission order: equal priorities are interleaved
and the oldest job has the lowest priority, so priority order and FIFO differ."""


def run_claimer(base_url: str, service_id: str, name: str, start: threading.Barrier) -> list[str]:
    """Claim and complete jobs until a claim finds none; return the ids this claimer claimed."""
    claimed: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        start.wait(timeout=30)
        for _ in range(CONCURRENT_JOB_COUNT + 1):
            response = claim(http, service_id, worker=name)
            if response.status_code == 204:
                return claimed
            assert response.status_code == 200, response.text

            job = response.json()["data"]
            claimed.append(job["id"])
            completed = complete(http, job)
            assert completed.status_code == 200, f"{name} completing {job['id']}: {completed.text}"
    raise AssertionError(f"{name} claimed more jobs than were submitted")


def test_concurrent_claims_exactly_once(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submitted = submit_batches(http, service_id, CONCURRENT_JOB_COUNT)
    names = [f"claimer-{index}" for index in range(CLAIMER_COUNT)]
    start = threading.Barrier(CLAIMER_COUNT + 1)

    with ThreadPoolExecutor(CLAIMER_COUNT) as pool:
        futures = [pool.submit(run_claimer, server.url, service_id, name, start)
                   for name in names]
        start.wait(timeout=30)
        began = time.monotonic()
        claimed_by_name = {name: future.result(timeout=CLAIMER_TIMEOUT_SECONDS)
                           for name, future in zip(names, futures, strict=True)}
        elapsed = time.monotonic() - began

    claims = Counter(job_id for ids in claimed_by_name.values() for job_id in ids)
    print(f"\n{CONCURRENT_JOB_COUNT} jobs claimed and completed by {CLAIMER_COUNT} claimers "
          f"in {elapsed:.2f} s ({CONCURRENT_JOB_COUNT / elapsed:.0f} jobs/s); "
          f"per claimer: {sorted(len(ids) for ids in claimed_by_name.values())}")
    claimed_twice = [job_id for job_id, count in claims.items() if count > 1]
    assert claimed_twice == []
    assert set(claims) == set(submitted)

    completed = read_all_pages(
        http, f"/services/{service_id}/jobs?status=COMPLETED&limit={COMPLETED_PAGE_SIZE}"
    )
    completed_ids = [job["id"] for job in completed]
    assert len(completed_ids) == len(set(completed_ids))
    assert set(completed_ids) == set(submitted)
    wrong_results = [job for job in completed
                     if job["results"] != {"result": 2 * job["parameters"]["value"]}]
    assert wrong_results == []


def test_claim_limit_returns_list(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    submitted = [submit(http, service_id, value) for value in range(5)]

    first = claim(http, service_id, limit=3)
    second = claim(http, service_id, limit=3)
    third = claim(http, service_id, limit=3)

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    first_ids = [job["id"] for job in first.json()["data"]]
    second_ids = [job["id"] for job in second.json()["data"]]
    assert len(first_ids) == 3
    assert len(second_ids) == 2
    assert sorted(first_ids + second_ids) == sorted(submitted)
    assert third.status_code == 204
    assert third.content == b""


def test_empty_queue_claim_is_204(http: httpx.Client) -> None:
    service_id = create_service_with(http)

    response = claim(http, service_id, wait_seconds=0.5)

    assert response.status_code == 204
    assert response.content == b""


def test_long_poll_receives_later_job(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service_with(http)
    waiting = threading.Event()

    def wait_for_claim() -> tuple[httpx.Response, float]:
        with httpx.Client(base_url=server.url) as client:
            waiting.set()
            response = claim(client, service_id, worker="poller", wait_seconds=LONG_POLL_SECONDS)
            return response, time.monotonic()

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(wait_for_claim)
        assert waiting.wait(timeout=10)
        time.sleep(WAITER_HEAD_START_SECONDS)
        submit_sent = time.monotonic()
        job_id = submit(http, service_id, 1)
        submit_answered = time.monotonic()
        response, claim_answered = future.result(timeout=LONG_POLL_SECONDS + 20)

    print(f"\nlong poll: claim answered {claim_answered - submit_answered:+.3f} s after the "
          f"submit response ({claim_answered - submit_sent:.3f} s after the submit was sent)")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == job_id
    assert claim_answered - submit_sent < LONG_POLL_MAX_DELAY_SECONDS


def test_abandoned_long_poll_claims_nothing(server: ServerProcess, http: httpx.Client) -> None:
    """A long poll whose client has gone away must leave the job to a live worker."""
    service_id = create_service_with(http)
    with (
        httpx.Client(base_url=server.url, timeout=IMPATIENT_CLIENT_TIMEOUT_SECONDS) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(f"/services/{service_id}/jobs/next",
                       json={"worker": "gone", "wait_seconds": ABANDONED_WAIT_SECONDS})
    job_id = submit(http, service_id, 1)

    response = claim(http, service_id, worker="live", wait_seconds=ABANDONED_WAIT_SECONDS)

    holder = read_full_job(http, job_id)["worker"]
    assert response.status_code == 200, f"the live claim got nothing; the job went to {holder!r}"
    assert response.json()["data"]["id"] == job_id


def dispatch_order(priorities: list[int]) -> list[int]:
    """Return submission indexes in priority order, higher first and FIFO among equals."""
    return sorted(range(len(priorities)), key=lambda index: (-priorities[index], index))


def test_queue_shows_priority_order(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    ids = [submit(http, service_id, index, priority=priority)
           for index, priority in enumerate(QUEUE_PRIORITIES)]
    expected = [ids[index] for index in dispatch_order(QUEUE_PRIORITIES)]

    queue = http.get(f"/services/{service_id}/queue")
    peek = http.get(f"/services/{service_id}/jobs/next")

    assert queue.status_code == 200, queue.text
    assert [job["id"] for job in queue.json()["data"]] == expected
    assert peek.status_code == 200, peek.text
    assert peek.json()["data"]["id"] == expected[0]


def test_claims_follow_priority_order(http: httpx.Client) -> None:
    """Each claim takes the priority head, or the oldest job on a fairness claim."""
    service_id = create_service_with(http)
    ids = [submit(http, service_id, index, priority=priority)
           for index, priority in enumerate(QUEUE_PRIORITIES)]
    remaining = [ids[index] for index in dispatch_order(QUEUE_PRIORITIES)]
    priority_claims = 0

    for _ in QUEUE_PRIORITIES:
        head = remaining[0]
        oldest = min(remaining, key=ids.index)
        claimed = claim_job(http, service_id)["id"]

        assert claimed in (head, oldest), (
            f"claim {len(ids) - len(remaining) + 1} took job {ids.index(claimed)}; expected "
            f"job {ids.index(head)} by priority or job {ids.index(oldest)} as the oldest"
        )
        if claimed == head and head != oldest:
            priority_claims += 1
        remaining.remove(claimed)

    assert priority_claims > 0
    assert claim(http, service_id).status_code == 204


def test_fairness_serves_low_priority_job(http: httpx.Client) -> None:
    service_id = create_service_with(http)
    low_id = submit(http, service_id, 0)
    for value in range(FAIRNESS_BACKLOG):
        submit(http, service_id, value, priority=HIGH_PRIORITY)

    claims_needed: int | None = None
    claimed: list[dict[str, Any]] = []
    for count in range(1, FAIRNESS_MAX_CLAIMS + 1):
        submit(http, service_id, count, priority=HIGH_PRIORITY)
        job = claim_job(http, service_id)
        claimed.append(job)
        if job["id"] == low_id:
            claims_needed = count
            break

    high_claims = sum(1 for job in claimed if job["priority"] == HIGH_PRIORITY)
    print(f"\nfairness: the low-priority job was claimed on claim {claims_needed} "
          f"after {high_claims} high-priority claims")
    assert claims_needed is not None
