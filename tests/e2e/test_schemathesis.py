"""Schemathesis against a live server on SQLite: no 5xx, and responses match /openapi.json.

It generates requests from the published document, both valid and invalid
ones, and checks every response. The run takes about 20 s on one core.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES_PER_OPERATION = 10
SEED = 20261204
"""A fixed seed, so a failure reproduces and CI does not flake on a new random case."""
RUN_TIMEOUT_SECONDS = 180
LONG_POLLS = ("post_services_service_id_jobs_next", "get_jobs_job_id")
"""Operations left out: a generated wait_seconds up to 300 would hold each request that long.
The e2e claim and wait tests cover them."""


def test_schemathesis_finds_no_failures(sqlite_url: str, tmp_path: Path) -> None:
    server = start_server(sqlite_url, tmp_path / "server.log", "--no-access-log")
    command = [
        str(SCHEMATHESIS), "run", f"{server.url}/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
        "--request-timeout", "10",
        *(argument for operation_id in LONG_POLLS
          for argument in ("--exclude-operation-id", operation_id)),
    ]
    try:
        # Schemathesis keeps a cache in its working directory: keep it out of the checkout.
        run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                             timeout=RUN_TIMEOUT_SECONDS, check=False)
    finally:
        server.stop()

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
