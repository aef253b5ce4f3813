"""A full disk or a read-only SQLite file: 503 with the reason, reads go on, writes recover.

The database lives on a small tmpfs that the test mounts, which needs root
(or CAP_SYS_ADMIN); without it the tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.faults_load import Load, Target, check_nothing_lost, create_service, describe
from tests.e2e.workers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

TMPFS_SIZE = "2M"
LOAD_TMPFS_SIZE = "16M"
"""Room for the WAL to reach SQLite's automatic checkpoint (1000 pages, 4 MB with 4 KiB
pages) before the ballast fills the rest. On a 2 MB disk the WAL itself fills the disk
under load, and no space returns when the ballast is removed."""
BALLAST_CHUNK = b"\0" * 4096
PADDING = "x" * 8000
"""Padding in the parameters, so a few submissions outgrow the space SQLite has left."""
MAX_SUBMISSIONS_UNTIL_FULL = 100
LEASE_SECONDS = 600
"""Long, so that the job claimed before the disk fills is still held when space returns."""
REJECTIONS_BEFORE_RECOVERY = 10
ACKNOWLEDGED_AFTER_RECOVERY = 30
RECOVERY_TIMEOUT_SECONDS = 30
FULL_DISK_REASON = "disk that holds the database is full"
READ_ONLY_REASON = "database file is read-only"


def mount(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *arguments], capture_output=True, text=True, check=False)


def unmount(directory: Path) -> None:
    """Unmount ``directory``; if a file on it is still open, detach it and fail the test."""
    unmounted = subprocess.run(["umount", str(directory)], capture_output=True, text=True,
                               check=False)
    if unmounted.returncode != 0:
        subprocess.run(["umount", "--lazy", str(directory)], capture_output=True, check=False)
        raise AssertionError(f"{directory} was still in use: {unmounted.stderr.strip()}")


@contextlib.contextmanager
def mounted_tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """Mount a fresh tmpfs of ``size`` on ``directory``, and unmount it afterwards."""
    directory.mkdir()
    mounted = mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory))
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        unmount(directory)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs", TMPFS_SIZE) as directory:
        yield directory


@pytest.fixture
def load_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs", LOAD_TMPFS_SIZE) as directory:
        yield directory


@pytest.fixture
def read_only_view(tmpfs: Path, tmp_path: Path) -> Iterator[Path]:
    """A read-only bind mount of the tmpfs; the test may make it writable again."""
    view = tmp_path / "read-only"
    view.mkdir()
    bound = mount("--bind", str(tmpfs), str(view))
    assert bound.returncode == 0, bound.stderr
    try:
        made_read_only = mount("-o", "remount,bind,ro", str(view))
        assert made_read_only.returncode == 0, made_read_only.stderr
        yield view
    finally:
        unmount(view)


def fill(directory: Path) -> Path:
    """Write a ballast file into ``directory`` until the disk is full; return its path."""
    ballast = directory / "ballast"
    descriptor = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, BALLAST_CHUNK)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(descriptor)
    return ballast


def submit(http: httpx.Client, service_id: str, key: str, *, padded: bool) -> httpx.Response:
    parameters = {"key": key, "padding": PADDING} if padded else {"key": key}
    return http.post(f"/services/{service_id}/jobs", json={"parameters": parameters},
                     headers={"Idempotency-Key": key})


def claim(http: httpx.Client, service_id: str) -> dict[str, object]:
    response = http.post(f"/services/{service_id}/jobs/next", json={"worker": "disk-test"})
    assert response.status_code == 200, response.text
    job: dict[str, object] = response.json()["data"]
    return job


def complete(http: httpx.Client, job: dict[str, object]) -> httpx.Response:
    lease = job["lease"]
    assert isinstance(lease, dict)
    # Padded, so that the completion needs more space than the rejected submission.
    results = {"key": "done", "worker": "disk-test", "attempt": lease["attempt"],
               "padding": PADDING * 2}
    patch = {"status": "COMPLETED", "results": results, "lease": lease["token"]}
    return http.patch(f"/jobs/{job['id']}", json=patch)


def submit_until_rejected(http: httpx.Client, service_id: str) -> tuple[list[str], httpx.Response]:
    """Submit padded jobs until one is rejected; return the acknowledged ids and the rejection."""
    acknowledged: list[str] = []
    for n in range(MAX_SUBMISSIONS_UNTIL_FULL):
        response = submit(http, service_id, f"padded-{n}", padded=True)
        if response.status_code != 201:
            return acknowledged, response
        acknowledged.append(response.json()["data"]["id"])
    raise AssertionError(f"{MAX_SUBMISSIONS_UNTIL_FULL} submissions fit on a full disk")


def integrity(database: Path) -> str:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return result


def assert_rejected(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert reason in response.json()["errors"][0]["detail"]


def test_full_disk_answers_503_and_recovers(tmpfs: Path, tmp_path: Path) -> None:
    database = tmpfs / "topchef.db"
    server = start_server(f"sqlite:///{database}", tmp_path / "server.log")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        service_id = create_service(server.url, lease_seconds=LEASE_SECONDS)
        first = submit(http, service_id, "first", padded=False).json()["data"]["id"]
        working = claim(http, service_id)

        ballast = fill(tmpfs)
        acknowledged, rejected = submit_until_rejected(http, service_id)
        completion = complete(http, working)
        service_read = http.get(f"/services/{service_id}")
        job_read = http.get(f"/jobs/{first}")
        still_working = http.get(f"/jobs/{working['id']}").json()["data"]["status"]

        ballast.unlink()
        retried = submit(http, service_id, rejected.request.headers["Idempotency-Key"],
                         padded=True)
        completion_retried = complete(http, working)
        acknowledged += [retried.json()["data"]["id"]]
        found = [http.get(f"/jobs/{job_id}").status_code for job_id in [first, *acknowledged]]
    exit_code = server.stop()

    print(f"\nfull disk: {len(acknowledged)} padded jobs acknowledged, exit code {exit_code}")
    assert_rejected(rejected, FULL_DISK_REASON)
    assert_rejected(completion, FULL_DISK_REASON)
    assert service_read.status_code == 200
    assert job_read.status_code == 200
    assert still_working == "WORKING"
    assert retried.status_code == 201
    assert completion_retried.status_code == 200
    assert set(found) == {200}
    assert f"database unavailable on sqlite at sqlite:///{database}: the {FULL_DISK_REASON}" \
        in server.log()
    assert integrity(database) == "ok"


def test_full_disk_recovers_under_load(load_tmpfs: Path, tmp_path: Path) -> None:
    database_url = f"sqlite:///{load_tmpfs / 'topchef.db'}"
    server = start_server(database_url, tmp_path / "server.log")
    load = Load(Target(server.url), create_service(server.url))

    load.start()
    try:
        wait_until(lambda: len(load.ledger.acknowledged) >= ACKNOWLEDGED_AFTER_RECOVERY,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions before the disk fills")
        ballast = fill(load_tmpfs)
        wait_until(lambda: load.ledger.answers["submit 503"] >= REJECTIONS_BEFORE_RECOVERY,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions rejected on a full disk")
        acknowledged_when_full = len(load.ledger.acknowledged)
        freed_bytes = ballast.stat().st_size
        ballast.unlink()
        wait_until(lambda: len(load.ledger.acknowledged)
                   >= acknowledged_when_full + ACKNOWLEDGED_AFTER_RECOVERY,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions after space returns")

        load.stop_submitting()
        resubmitted = load.resubmit_unanswered()
        load.drain(database_url)
    finally:
        load.stop_all()
        server.stop()

    print(f"\nfull disk under load: {describe(load.ledger, resubmitted=resubmitted)}")
    assert freed_bytes > 0, "the WAL filled the disk before the ballast did"
    assert check_nothing_lost(database_url, load.ledger) == []
    assert integrity(load_tmpfs / "topchef.db") == "ok"


def kill_after_first_job(database: Path, log_path: Path) -> tuple[str, str]:
    """Create a service and a job, then SIGKILL the server, leaving the WAL files behind."""
    server: ServerProcess = start_server(f"sqlite:///{database}", log_path)
    service_id = create_service(server.url)
    job = httpx.post(f"{server.url}/services/{service_id}/jobs", json={"parameters": {"key": "a"}})
    server.process.kill()
    server.process.wait()
    return service_id, job.json()["data"]["id"]


def test_read_only_database_answers_503_and_recovers(
    tmpfs: Path, read_only_view: Path, tmp_path: Path
) -> None:
    service_id, job_id = kill_after_first_job(tmpfs / "topchef.db", tmp_path / "writer.log")
    database = read_only_view / "topchef.db"
    server = start_server(f"sqlite:///{database}", tmp_path / "server.log")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        service_read = http.get(f"/services/{service_id}")
        job_read = http.get(f"/jobs/{job_id}")
        rejected = submit(http, service_id, "read-only", padded=False)

        made_writable = mount("-o", "remount,bind,rw", str(read_only_view))
        retried = submit(http, service_id, "read-only", padded=False)
        replayed = submit(http, service_id, "read-only", padded=False)
    server.stop()

    assert made_writable.returncode == 0, made_writable.stderr
    assert service_read.status_code == 200
    assert job_read.status_code == 200
    assert_rejected(rejected, READ_ONLY_REASON)
    assert retried.status_code == 201, retried.text
    assert replayed.status_code == 200
    assert replayed.json()["data"]["id"] == retried.json()["data"]["id"]
    assert f"the {READ_ONLY_REASON} to the server" in server.log()
    assert integrity(database) == "ok"


def test_read_only_database_recovers_under_load(
    tmpfs: Path, read_only_view: Path, tmp_path: Path
) -> None:
    service_id, _job_id = kill_after_first_job(tmpfs / "topchef.db", tmp_path / "writer.log")
    database_url = f"sqlite:///{read_only_view / 'topchef.db'}"
    server = start_server(database_url, tmp_path / "server.log")
    load = Load(Target(server.url), service_id)

    load.start()
    try:
        wait_until(lambda: load.ledger.answers["submit 503"] >= REJECTIONS_BEFORE_RECOVERY,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions rejected as read-only")
        acknowledged_while_read_only = len(load.ledger.acknowledged)
        made_writable = mount("-o", "remount,bind,rw", str(read_only_view))
        wait_until(lambda: len(load.ledger.acknowledged) >= ACKNOWLEDGED_AFTER_RECOVERY,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions after the recovery")

        load.stop_submitting()
        resubmitted = load.resubmit_unanswered()
        load.drain(database_url)
    finally:
        load.stop_all()
        server.stop()

    print(f"\nread-only under load: {describe(load.ledger, resubmitted=resubmitted)}")
    assert made_writable.returncode == 0, made_writable.stderr
    assert acknowledged_while_read_only == 0
    assert check_nothing_lost(database_url, load.ledger) == []
    assert integrity(read_only_view / "topchef.db") == "ok"


def test_read_only_database_without_wal_fails_start(
    tmpfs: Path, read_only_view: Path, tmp_path: Path
) -> None:
    # A clean stop removes the WAL files, which SQLite cannot recreate on a read-only mount.
    writer = start_server(f"sqlite:///{tmpfs / 'topchef.db'}", tmp_path / "writer.log")
    writer.stop()

    with pytest.raises(RuntimeError) as rejected:
        start_server(f"sqlite:///{read_only_view / 'topchef.db'}", tmp_path / "server.log")

    assert "cannot open the database" in str(rejected.value)
