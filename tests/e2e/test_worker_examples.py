"""The programs in examples/ run as their docstrings describe: a worker and a submitter.

Each example gets a server of its own, because the examples find their service
by name and other tests may create services with the same names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.workers import REPOSITORY, WorkerProcess, start_worker
from topchef.client import Client, JobStatus

pytestmark = pytest.mark.e2e

EXAMPLES = REPOSITORY / "examples"
FIXTURES = REPOSITORY.parent / "shared" / "fixtures"
SUBMITTER_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("examples")
    server = start_server(f"sqlite:///{directory / 'topchef.db'}", directory / "server.log")
    yield server
    server.stop()


@pytest.fixture
def run_worker(example_server: ServerProcess, tmp_path: Path) -> Iterator[
        list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        assert worker.stop() == 0, worker.log()


def submit(example_server: ServerProcess, script: Path, *args: str) -> subprocess.CompletedProcess[
        str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOPCHEF_")}
    environment["TOPCHEF_URL"] = example_server.url
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=environment, cwd=script.parent, timeout=SUBMITTER_TIMEOUT_SECONDS,
                          check=False)


def test_add_one(example_server: ServerProcess, run_worker: list[WorkerProcess],
                 tmp_path: Path) -> None:
    directory = EXAMPLES / "add_one"
    run_worker.append(start_worker(example_server.url, "add_one_worker:add_one",
                                   tmp_path / "worker.log", app_dir=directory))
    run_worker[0].wait_for_log("runs jobs of service Add One")

    finished = submit(example_server, directory / "submit_add_one.py", "1", "2", "41")

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == ["1 + 1 = 2", "2 + 1 = 3", "41 + 1 = 42"]


def test_add_one_without_worker(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "server.log")
    try:
        finished = submit(server, EXAMPLES / "add_one" / "submit_add_one.py", "1")
    finally:
        server.stop()
    assert finished.returncode == 1
    assert "start the worker first" in finished.stderr


def _scan_rows(stdout: str) -> dict[float, dict[str, float]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        pulse, result, dark, light, fraction = line.split()[:5]
        rows[float(pulse)] = {"result": int(result), "dark": int(dark), "light": int(light),
                              "fraction": float(fraction)}
    return rows


def test_rabi_scan_oscillates(example_server: ServerProcess, run_worker: list[WorkerProcess],
                              tmp_path: Path) -> None:
    directory = EXAMPLES / "rabi"
    run_worker.append(start_worker(example_server.url, "rabi_worker:experiment",
                                   tmp_path / "worker.log", "--concurrency", "4",
                                   app_dir=directory))
    run_worker[0].wait_for_log("runs jobs of service")
    plot = tmp_path / "rabi.png"

    finished = submit(example_server, directory / "rabi_scan.py", "--points", "9",
                      "--max-pulse-time", "2", "--repetitions", "400", "--plot", str(plot))

    assert finished.returncode == 0, finished.stderr
    rows = _scan_rows(finished.stdout)
    assert sorted(rows) == [0.25 * i for i in range(9)]
    # A 1 MHz Rabi frequency: dark at 0, 1 and 2 us, bright at 0.5 and 1.5 us.
    for dark_time in (0.0, 1.0, 2.0):
        assert rows[dark_time]["fraction"] < 0.3, rows[dark_time]
    for bright_time in (0.5, 1.5):
        assert rows[bright_time]["fraction"] > 0.6, rows[bright_time]
    assert rows[0.5]["result"] > rows[0.0]["result"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in finished.stderr
        assert not plot.exists()
    else:
        assert plot.stat().st_size > 0


def test_rabi_ramsey_job(example_server: ServerProcess, run_worker: list[WorkerProcess],
                         tmp_path: Path) -> None:
    from topchef.client import Client

    run_worker.append(start_worker(example_server.url, "rabi_worker:experiment",
                                   tmp_path / "worker.log", app_dir=EXAMPLES / "rabi"))
    run_worker[0].wait_for_log("runs jobs of service")
    with Client(example_server.url) as client:
        (service,) = [s for s in client.list_services() if s.name == "Simulated Rabi Experiment"]
        job = client.submit(service.id, {"type": "RAMSEY", "wait_time": 1.0, "pulse_time": 0.25,
                                         "pulse_phase": 0.0, "number_of_repetitions": 10})
        finished = client.wait(job.id, timeout=30)
    assert set(finished.results) == {"light_count", "dark_count", "result_count",
                                     "time_completed"}


@pytest.mark.parametrize("name", ["rabi-ramsey-experiment.schema.json",
                                  "photon-count-result.schema.json"])
def test_rabi_schemas_match_fixtures(name: str) -> None:
    original = FIXTURES / name
    if not original.exists():
        pytest.skip(f"the original schema {original} is not on this machine")
    copied = json.loads((EXAMPLES / "rabi" / name).read_text())
    assert copied == json.loads(original.read_text())



def test_worker_service_id_picks_one(tmp_path: Path) -> None:
    """Two services share the worker's name; --service-id says which one it serves."""
    schema = {"type": "object"}
    server = start_server(f"sqlite:///{tmp_path / 'twins.db'}", tmp_path / "server.log")
    try:
        with Client(server.url) as client:
            first, second = (client.create_service("Add One", job_registration_schema=schema,
                                                   job_result_schema=schema)
                             for _ in range(2))
            worker = start_worker(server.url, "add_one_worker:add_one", tmp_path / "worker.log",
                                  "--service-id", second.id, app_dir=EXAMPLES / "add_one")
            try:
                job = client.submit(second.id, {"value": 41})
                finished = client.wait(job.id, timeout=60)
                untouched = client.submit(first.id, {"value": 1})
            finally:
                assert worker.stop() == 0, worker.log()
            left = client.get_job(untouched.id)
    finally:
        server.stop()

    assert finished.status == JobStatus.COMPLETED
    assert finished.results == {"result": 42}
    assert left.status == JobStatus.REGISTERED
