"""``topchef worker`` processes for the end-to-end tests, and waiting with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.e2e.conftest import ServerProcess
from topchef.client import Client, Job, WaitTimeoutError

REPOSITORY = Path(__file__).parents[2]
STOP_TIMEOUT_SECONDS = 20
POLL_SECONDS = 0.05

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Call ``check`` until it returns something other than None or False, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


@dataclass
class WorkerProcess:
    """A running ``topchef worker``: its process and the file its log goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Wait for the exit and return its code; fail with the log if it takes too long."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the worker did not exit within {timeout} s:\n{self.log()}") from None

    def stop(self) -> int:
        self.signal(signal.SIGTERM)
        return self.wait()

    def wait_for_log(self, text: str, *, timeout: float = 20) -> None:
        wait_until(lambda: text in self.log(), timeout=timeout,
                   what=f"{text!r} in the worker log:\n{self.log()}")


def start_worker(url: str, target: str, log_path: Path, *args: str,
                 env: dict[str, str] | None = None, app_dir: Path = REPOSITORY) -> WorkerProcess:
    """Start ``python -m topchef worker TARGET`` against ``url``."""
    command = [sys.executable, "-m", "topchef", "worker", target, "--url", url,
               "--app-dir", str(app_dir), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOPCHEF_")}
    environment.update(env or {})
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   env=environment, cwd=REPOSITORY)
    return WorkerProcess(process, log_path)


def find_service(client: Client, name: str) -> str | None:
    """Return the id of the one service called ``name``, or None while there is none."""
    matches = [service.id for service in client.list_services() if service.name == name]
    assert len(matches) <= 1, f"several services are called {name!r}: {matches}"
    return matches[0] if matches else None


def read_record(path: Path) -> list[tuple[str, str, int]]:
    """Return the (event, job id, attempt) lines a worker function recorded."""
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [(event, job_id, int(attempt)) for event, job_id, attempt, _ in lines]


class Setup:
    """One test's service name, record file and worker processes, stopped at the end."""

    def __init__(self, server: ServerProcess, tmp_path: Path) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.service = f"e2e-worker-{uuid.uuid4().hex[:8]}"
        self.record = tmp_path / "record.txt"
        self.workers: list[WorkerProcess] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {"TOPCHEF_E2E_SERVICE": self.service, "TOPCHEF_E2E_RECORD": str(self.record),
                **extra}

    def start(self, target: str, *args: str, **env: str) -> WorkerProcess:
        log_path = self.tmp_path / f"worker-{len(self.workers)}.log"
        worker = start_worker(self.server.url, f"tests.e2e.worker_apps:{target}", log_path,
                              *args, env=self.env(**env))
        self.workers.append(worker)
        return worker

    def service_id(self, client: Client, worker: WorkerProcess) -> str:
        def created() -> str | None:
            assert worker.process.poll() is None, f"the worker exited:\n{worker.log()}"
            return find_service(client, self.service)

        return wait_until(created, timeout=20, what=f"the worker to create {self.service}")

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.stop()

    def wait(self, client: Client, job_id: str, *, timeout: float = 30) -> Job:
        """Wait for the job to finish; on a timeout, fail with every worker's log."""
        try:
            return client.wait(job_id, timeout=timeout)
        except WaitTimeoutError as exc:
            logs = "\n".join(f"--- {worker.log_path.name}\n{worker.log()}"
                             for worker in self.workers)
            raise AssertionError(f"{exc}\n{logs}") from None


def serve_on(port: int, database_url: str, log_path: Path) -> ServerProcess:
    """Start ``topchef serve`` on a chosen port and wait until it responds."""
    command = [sys.executable, "-m", "topchef", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--database-url", database_url]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)

    def answers() -> bool:
        assert process.poll() is None, f"the server exited:\n{server.log()}"
        try:
            return httpx.get(server.url + "/", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=30, what="the server to answer")
    return server
