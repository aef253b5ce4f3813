"""Webhooks from a real server process to a receiver the test runs on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import STORES, fresh_postgres_schema
from tests.e2e.conftest import ServerProcess, free_port, start_server
from tests.e2e.sse import EventReader

pytestmark = pytest.mark.e2e

SECRET = "test-webhook-secret"
DELIVERY_TIMEOUT_SECONDS = 15
QUIET_SECONDS = 6


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server that records each POST and responds with the next scripted status."""

    port: int
    statuses: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> list[Delivery]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.arrived:
                status = state.statuses.pop(0) if state.statuses else 200
                state.deliveries.append(Delivery(dict(self.headers), body, time.monotonic()))
                state.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = http_server.server_address[1]
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield state
    http_server.shutdown()
    http_server.server_close()


@pytest.fixture(params=STORES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'topchef.db'}"
        return
    with fresh_postgres_schema() as url:
        yield url


@contextlib.contextmanager
def serving(database: str, log_path: Path, *allow_hosts: str) -> Iterator[ServerProcess]:
    options = ["--webhook-secret", SECRET]
    for host in allow_hosts:
        options += ["--webhook-allow-host", host]
    server = start_server(database, log_path, *options)
    try:
        yield server
    finally:
        server.stop()


def create_service(http: httpx.Client, callback_url: str | None) -> httpx.Response:
    return http.post("/services", json={
        "name": "hooked", "description": "", "job_registration_schema": {},
        "job_result_schema": {}, "callback_url": callback_url,
    })


def finish_job(http: httpx.Client, service_id: str, status: str = "COMPLETED") -> str:
    job_id: str = http.post(f"/services/{service_id}/jobs",
                            json={"parameters": {"secret": 1}}).json()["data"]["id"]
    claimed = http.post(f"/services/{service_id}/jobs/next", json={"worker": "w1"}).json()
    token = claimed["data"]["lease"]["token"]
    if status == "COMPLETED":
        response = http.patch(f"/jobs/{job_id}", json={
            "status": "COMPLETED", "results": {"secret": 2}, "lease": token})
    else:
        response = http.post(f"/jobs/{job_id}/fail",
                             json={"lease": token, "error": "broken", "retry": False})
    assert response.status_code == 200, response.text
    return job_id


def test_delivery_signed(database: str, tmp_path: Path, receiver: Receiver) -> None:
    allowed = f"127.0.0.1:{receiver.port}"
    with (serving(database, tmp_path / "server.log", allowed) as server,
          httpx.Client(base_url=server.url, timeout=10) as http):
        service_id = create_service(http, receiver.url).json()["data"]["id"]
        job_id = finish_job(http, service_id)
        (delivery,) = receiver.wait_for(1)
        with EventReader(server.url, params={"job": job_id, "after": "0"}) as reader:
            completed = reader.events(lambda m: m.event == "job.completed")[-1]

    timestamp = delivery.headers["X-TopChef-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + delivery.body,
                        hashlib.sha256).hexdigest()
    assert delivery.headers["X-TopChef-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60
    assert delivery.json() == {"job_id": job_id, "service_id": service_id,
                               "status": "COMPLETED", "event_id": int(completed.id or 0)}
    assert b"secret" not in delivery.body


def test_retry_after_server_error(database: str, tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500]
    allowed = f"127.0.0.1:{receiver.port}"
    with (serving(database, tmp_path / "server.log", allowed) as server,
          httpx.Client(base_url=server.url, timeout=10) as http):
        service_id = create_service(http, receiver.url).json()["data"]["id"]
        job_id = finish_job(http, service_id, status="ERROR")
        first, second = receiver.wait_for(2)[:2]
        time.sleep(1)
        log = server.log()

    assert first.body == second.body
    assert second.json()["status"] == "ERROR"
    assert second.json()["job_id"] == job_id
    assert second.received_at - first.received_at >= 0.4
    assert len(receiver.deliveries) == 2
    assert "failed (attempt 1 of" in log


def test_callback_host_not_allowed(database: str, tmp_path: Path, receiver: Receiver) -> None:
    allowed = f"127.0.0.1:{receiver.port}"
    other_port = free_port()
    with (serving(database, tmp_path / "server.log", allowed) as server,
          httpx.Client(base_url=server.url, timeout=10) as http):
        rejected_port = create_service(http, f"http://127.0.0.1:{other_port}/hook")
        rejected_name = create_service(http, f"http://localhost:{receiver.port}/hook")
        service_id = create_service(http, None).json()["data"]["id"]
        patched = http.patch(f"/services/{service_id}",
                             json={"callback_url": f"http://127.0.0.1:{other_port}/"})
        classic = http.get(f"/services/{service_id}").json()["data"]
        full = http.get(f"/services/{service_id}?view=full").json()["data"]

    for response in (rejected_port, rejected_name, patched):
        assert response.status_code == 400
        assert response.json()["errors"][0]["title"] == "Invalid Callback URL"
    assert "callback_url" not in classic
    assert full["callback_url"] is None


def test_no_allowlist_refuses_every_callback(tmp_path: Path, receiver: Receiver) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "server.log")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = create_service(http, receiver.url)
    finally:
        server.stop()

    assert response.status_code == 400
    assert "allowed: none" in response.json()["errors"][0]["detail"]


def test_allowlist_without_secret_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="needs a secret"):
        start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "server.log",
                     "--webhook-allow-host", "127.0.0.1")


def test_delivered_after_restart(database: str, tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500] * 100
    allowed = f"127.0.0.1:{receiver.port}"
    with (serving(database, tmp_path / "first.log", allowed) as server,
          httpx.Client(base_url=server.url, timeout=10) as http):
        service_id = create_service(http, receiver.url).json()["data"]["id"]
        job_id = finish_job(http, service_id)
        receiver.wait_for(1)

    with receiver.arrived:
        receiver.statuses.clear()
        failed_attempts = len(receiver.deliveries)
    with serving(database, tmp_path / "second.log", allowed):
        deliveries = receiver.wait_for(failed_attempts + 1)

    assert len(deliveries) == failed_attempts + 1
    assert deliveries[-1].json()["job_id"] == job_id


def test_no_delivery_once_host_disallowed(
    database: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 100
    allowed = f"127.0.0.1:{receiver.port}"
    with (serving(database, tmp_path / "first.log", allowed) as server,
          httpx.Client(base_url=server.url, timeout=10) as http):
        service_id = create_service(http, receiver.url).json()["data"]["id"]
        finish_job(http, service_id)
        receiver.wait_for(1)

    with receiver.arrived:
        receiver.statuses.clear()
        attempts_before = len(receiver.deliveries)
    with serving(database, tmp_path / "second.log", f"127.0.0.1:{free_port()}") as second:
        time.sleep(QUIET_SECONDS)
        log = second.log()

    assert len(receiver.deliveries) == attempts_before
    assert "no longer on the allowlist" in log
