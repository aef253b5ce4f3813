from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.e2e


def test_serve_logs_address_and_store(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "server.log")
    try:
        log = server.log()
        assert f"starting on {server.url}" in log
        assert "sqlite:///" in log
    finally:
        exit_code = server.stop()

    assert exit_code in (0, -15)
    assert "Application shutdown complete" in server.log()


def test_data_survives_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = start_server(url, tmp_path / "first.log")
    try:
        created = httpx.post(first.url + "/services", json={
            "name": "kept", "description": "", "job_registration_schema": {},
            "job_result_schema": {},
        })
        assert created.status_code == 201
    finally:
        first.stop()

    second = start_server(url, tmp_path / "second.log")
    try:
        listed = httpx.get(second.url + "/services").json()["data"]
        assert [service["name"] for service in listed] == ["kept"]
    finally:
        second.stop()
