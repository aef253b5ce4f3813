"""A real ``topchef serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import STORES, fresh_postgres_schema

STARTUP_TIMEOUT_SECONDS = 30
SHUTDOWN_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A running server: its base URL, its process and the file its log goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Send SIGTERM and wait for the exit; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)


def start_server(database_url: str, log_path: Path, *extra_args: str) -> ServerProcess:
    """Start ``topchef serve`` and wait until it responds to ``GET /``."""
    port = free_port()
    command = [
        sys.executable, "-m", "topchef", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--database-url", database_url,
        *extra_args,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("TOPCHEF_DATABASE_URL", "DATABASE_URI")}
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{server.log()}")


@pytest.fixture(scope="session", params=STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server process per store, each on a fresh database, shared by the e2e tests."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{directory / 'topchef.db'}"
        else:
            database_url = stack.enter_context(fresh_postgres_schema())
        running = start_server(database_url, directory / "server.log")
        stack.callback(running.stop)
        yield running


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """An HTTP client whose relative URLs go to the shared server."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
