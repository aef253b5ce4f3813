"""A submit-and-complete load on a server that a fault test may kill or starve.

Submitter threads post jobs, each with its own Idempotency-Key; worker threads
claim jobs under a lease and complete them. Every response is written to one
``Ledger``: what the server acknowledged (201 or 200) is what it must never
lose, and what got no response is retried with the same key once the server is
back. Both kinds of thread read the server's URL from ``Target`` on every
request, so a test can restart the server on another port while they run.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from tests.e2e.workers import wait_until
from topchef.store.tables import jobs
from topchef.store.urls import parse_database_url

LEASE_SECONDS = 2
"""Short, so that jobs left WORKING by a crash go back to the queue within seconds."""
CLAIM_LIMIT = 5
CLAIM_WAIT_SECONDS = 1
REQUEST_TIMEOUT_SECONDS = 15
RETRY_PAUSE_SECONDS = 0.1
DRAIN_TIMEOUT_SECONDS = 90

SERVICE = {
    "name": "faults",
    "description": "jobs submitted and completed while the server or its database fails",
    "job_registration_schema": {"type": "object", "required": ["key"]},
    "job_result_schema": {"type": "object", "required": ["key", "worker", "attempt"]},
    "lease_seconds": LEASE_SECONDS,
    "max_attempts": 1000,
    "retry_delay_seconds": 0,
}


@dataclass
class Target:
    """The URL of the server that is running now."""

    url: str


@dataclass
class Ledger:
    """Every response the load got, keyed by Idempotency-Key or job id."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key to the id of the job the server acknowledged."""
    unanswered: set[str] = field(default_factory=set)
    """Keys whose submission got no response or a 503 and no acknowledgement since."""
    completed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Job id to the results of a completion the server acknowledged with 200."""
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    """Counts of "submit 201", "claim 503", "complete ConnectError" and so on."""
    errors: list[str] = field(default_factory=list)
    """Answers that no fault excuses: a 500, or a 503 outside the error envelope."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, request: str, outcome: str) -> None:
        with self.lock:
            self.answers[f"{request} {outcome}"] += 1

    def check_rejection(self, request: str, response: httpx.Response) -> None:
        """Record a response that is not a success, and note it if no fault excuses it."""
        self.count(request, str(response.status_code))
        if response.status_code == 503 and _is_error_envelope(response):
            return
        with self.lock:
            self.errors.append(f"{request}: {response.status_code} {response.text[:300]}")


def _is_error_envelope(response: httpx.Response) -> bool:
    try:
        errors = response.json().get("errors")
    except ValueError:
        return False
    return bool(errors) and all("detail" in error for error in errors)


def describe(ledger: Ledger, *, resubmitted: int) -> str:
    """Summarize the ledger for the test output."""
    return (f"{len(ledger.acknowledged)} jobs acknowledged ({ledger.answers['submit 200']} "
            f"replayed, {resubmitted} sent again at the end), {len(ledger.completed)} completions "
            f"acknowledged, answers {dict(sorted(ledger.answers.items()))}")


def create_service(url: str, *, lease_seconds: int = LEASE_SECONDS) -> str:
    service = {**SERVICE, "lease_seconds": lease_seconds}
    response = httpx.post(url + "/services", json=service, timeout=REQUEST_TIMEOUT_SECONDS)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit(client: httpx.Client, target: Target, *, service_id: str, key: str,
           ledger: Ledger) -> bool:
    """Submit the job for ``key`` once; return whether the server acknowledged it."""
    try:
        response = client.post(f"{target.url}/services/{service_id}/jobs",
                               json={"parameters": {"key": key}},
                               headers={"Idempotency-Key": key})
    except httpx.TransportError as exc:
        ledger.count("submit", type(exc).__name__)
        return False
    if response.status_code not in (200, 201):
        ledger.check_rejection("submit", response)
        return False

    ledger.count("submit", str(response.status_code))
    job_id = response.json()["data"]["id"]
    with ledger.lock:
        previous = ledger.acknowledged.setdefault(key, job_id)
        ledger.unanswered.discard(key)
    if previous != job_id:
        ledger.errors.append(f"key {key} acknowledged as job {previous} and as job {job_id}")
    return True


class Submitter(threading.Thread):
    """Submits jobs one after another until stopped, each until the server acknowledges it.

    A submission that got no answer or a 503 is sent again with the same key,
    as a careful client does. So when a crash cut off the response to a stored
    job, the repeat gets a replay (200) of that job.
    """

    def __init__(self, target: Target, service_id: str, ledger: Ledger, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.target = target
        self.service_id = service_id
        self.ledger = ledger
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                key = f"{self.name}-{n}"
                while not submit(client, self.target, service_id=self.service_id, key=key,
                                 ledger=self.ledger):
                    with self.ledger.lock:
                        self.ledger.unanswered.add(key)
                    if self.stop.wait(RETRY_PAUSE_SECONDS):
                        return


class Worker(threading.Thread):
    """Claims jobs under a lease and completes each with results naming the attempt."""

    def __init__(self, target: Target, service_id: str, ledger: Ledger, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.target = target
        self.service_id = service_id
        self.ledger = ledger
        self.stop = threading.Event()

    def run(self) -> None:
        body = {"worker": self.name, "wait_seconds": CLAIM_WAIT_SECONDS, "limit": CLAIM_LIMIT}
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(
                        f"{self.target.url}/services/{self.service_id}/jobs/next", json=body)
                except httpx.TransportError as exc:
                    self.ledger.count("claim", type(exc).__name__)
                    time.sleep(RETRY_PAUSE_SECONDS)
                    continue
                if response.status_code == 200:
                    for job in response.json()["data"]:
                        self.complete(client, job)
                elif response.status_code != 204:
                    self.ledger.check_rejection("claim", response)
                    time.sleep(RETRY_PAUSE_SECONDS)

    def complete(self, client: httpx.Client, job: dict[str, Any]) -> None:
        lease = job["lease"]
        results = {"key": job["parameters"]["key"], "worker": self.name,
                   "attempt": lease["attempt"]}
        patch = {"status": "COMPLETED", "results": results, "lease": lease["token"]}
        try:
            response = client.patch(f"{self.target.url}/jobs/{job['id']}", json=patch)
        except httpx.TransportError as exc:
            self.ledger.count("complete", type(exc).__name__)
            return
        if response.status_code == 409:  # the lease expired while the server was down
            self.ledger.count("complete", "409")
        elif response.status_code != 200:
            self.ledger.check_rejection("complete", response)
        else:
            self.ledger.count("complete", "200")
            with self.ledger.lock:
                self.ledger.completed[job["id"]] = results


@dataclass
class Load:
    """Submitters and workers running against one service."""

    target: Target
    service_id: str
    ledger: Ledger = field(default_factory=Ledger)
    submitters: list[Submitter] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    def start(self, *, submitters: int = 3, workers: int = 3) -> None:
        self.submitters = [Submitter(self.target, self.service_id, self.ledger, f"submitter{i}")
                           for i in range(submitters)]
        self.workers = [Worker(self.target, self.service_id, self.ledger, f"worker{i}")
                        for i in range(workers)]
        for thread in [*self.submitters, *self.workers]:
            thread.start()

    def stop_submitting(self) -> None:
        for submitter in self.submitters:
            submitter.stop.set()
        for submitter in self.submitters:
            submitter.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)

    def resubmit_unanswered(self) -> int:
        """Submit every still unanswered key again; return how many there were."""
        keys = sorted(self.ledger.unanswered)
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as client:
            for key in keys:
                wait_until(lambda key=key: submit(client, self.target, service_id=self.service_id,
                                                  key=key, ledger=self.ledger),
                           timeout=REQUEST_TIMEOUT_SECONDS, what=f"a resubmission of {key}")
        return len(keys)

    def drain(self, database_url: str) -> None:
        """Let the workers run until every job of the service is finished, then stop them."""
        wait_until(lambda: unfinished_jobs(database_url) == 0,
                   timeout=DRAIN_TIMEOUT_SECONDS, what="the queue to drain")
        self.stop_all()

    def stop_all(self) -> None:
        threads: list[Submitter | Worker] = [*self.submitters, *self.workers]
        for thread in threads:
            thread.stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)


@contextlib.contextmanager
def database(database_url: str) -> Iterator[sa.Connection]:
    """Open the server's database directly, to check what it stored."""
    engine = sa.create_engine(parse_database_url(database_url).sync_url,
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def unfinished_jobs(database_url: str) -> int:
    with database(database_url) as connection:
        query = sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.status.in_(["REGISTERED", "WORKING"]))
        return int(connection.execute(query).scalar_one())


def stored_jobs(database_url: str) -> list[sa.Row[Any]]:
    with database(database_url) as connection:
        return list(connection.execute(jobs.select()))


def check_nothing_lost(database_url: str, ledger: Ledger) -> list[str]:
    """Compare the database with the ledger; return every broken promise found."""
    rows = stored_jobs(database_url)
    by_id = {str(row.id): row for row in rows}
    problems = list(ledger.errors)

    for key, job_id in ledger.acknowledged.items():
        row = by_id.get(job_id)
        if row is None:
            problems.append(f"acknowledged job {job_id} ({key}) is missing")
        elif row.parameters != {"key": key}:
            problems.append(f"job {job_id} has parameters {row.parameters}, not {key}")
    for job_id, results in ledger.completed.items():
        row = by_id.get(job_id)
        if row is None or row.status != "COMPLETED" or row.results != results:
            found = None if row is None else (row.status, row.results)
            problems.append(f"completion of job {job_id} with {results} was lost: {found}")

    keys = collections.Counter(row.idempotency_key for row in rows)
    problems += [f"key {key} created {count} jobs" for key, count in keys.items() if count > 1]
    problems += [f"job {row.id} is {row.status} with results {row.results} and lease "
                 f"{row.lease_token}" for row in rows
                 if row.status != "COMPLETED" or row.results is None or row.lease_token]
    return problems
