"""``topchef serve --log-format json``: every log line is a JSON object, one per request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import fresh_postgres_schema
from tests.e2e.conftest import start_server

pytestmark = pytest.mark.e2e

SECRET_TOKEN = "Bearer s3cret-token-never-logged"
SECRET_PARAMETER = "parameter-value-never-logged"
SECRET_RESULT = "result-value-never-logged"
SERVICE = {
    "name": "Echo",
    "description": "Returns its input",
    "job_registration_schema": {"type": "object"},
    "job_result_schema": {"type": "object"},
}


def exercise(url: str) -> tuple[str, str]:
    """Create a service, submit, claim and complete a job; return their ids."""
    headers = {"Authorization": SECRET_TOKEN}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        service_id = http.post("/services", json=SERVICE).json()["data"]["id"]
        job = http.post(f"/services/{service_id}/jobs",
                        json={"parameters": {"secret": SECRET_PARAMETER}}).json()["data"]
        claimed = http.post(f"/services/{service_id}/jobs/next", json={"worker": "w1"})
        token = claimed.json()["data"]["lease"]["token"]
        done = http.patch(f"/jobs/{job['id']}", json={
            "status": "COMPLETED", "results": {"secret": SECRET_RESULT}, "lease": token})
        assert done.status_code == 200, done.text
        http.get("/jobs/not-a-uuid")
    return service_id, job["id"]


def log_entries(log_path: Path) -> list[dict[str, Any]]:
    lines = log_path.read_text().splitlines()
    assert lines
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return entries


def test_json_log_lines(sqlite_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_server(sqlite_url, log_path, "--log-format", "json")
    try:
        service_id, job_id = exercise(server.url)
    finally:
        server.stop()

    entries = log_entries(log_path)
    requests = [entry for entry in entries if entry["logger"] == "topchef.requests"]
    text = log_path.read_text()

    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)
    assert SECRET_TOKEN not in text
    assert "s3cret" not in text
    assert SECRET_PARAMETER not in text
    assert SECRET_RESULT not in text
    submit = next(entry for entry in requests
                  if entry["method"] == "POST" and entry["path"].endswith("/jobs"))
    assert submit["status"] == 201
    assert submit["service_id"] == service_id
    assert isinstance(submit["duration_ms"], float)
    patch = next(entry for entry in requests if entry["method"] == "PATCH")
    assert patch["job_id"] == job_id
    assert patch["route"] == "job"
    assert any(entry["status"] == 404 and entry["path"] == "/jobs/not-a-uuid"
               for entry in requests)


def test_each_request_logged_once(sqlite_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_server(sqlite_url, log_path)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            http.get("/healthz")
    finally:
        server.stop()

    lines = [line for line in log_path.read_text().splitlines() if "/healthz" in line]

    assert len(lines) == 1, lines
    assert " GET /healthz 200 " in lines[0]


def test_no_access_log_option(sqlite_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_server(sqlite_url, log_path, "--no-access-log")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            http.get("/healthz")
    finally:
        server.stop()

    assert "/healthz" not in log_path.read_text()


def test_log_format_from_environment(sqlite_url: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPCHEF_LOG_FORMAT", "json")
    log_path = tmp_path / "server.log"
    server = start_server(sqlite_url, log_path)
    server.stop()

    entries = log_entries(log_path)

    assert any(entry["logger"] == "topchef.cli" for entry in entries)


@pytest.mark.postgres
def test_json_logs_in_every_worker_process(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with fresh_postgres_schema() as database_url:
        server = start_server(database_url, log_path, "--log-format", "json", "--workers", "2")
        try:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                for _ in range(20):
                    http.get("/healthz")
        finally:
            server.stop()

    entries = log_entries(log_path)
    started = [entry for entry in entries if entry["message"].startswith("Started server process")]

    assert len(started) == 2
    assert sum(entry["logger"] == "topchef.requests" for entry in entries) >= 20
