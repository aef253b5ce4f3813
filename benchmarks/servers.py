"""Server processes the benchmarks start and stop: TopChef, the bare baseline, and databases.

Each scenario gets its own ``topchef serve`` on a free loopback port and a
database of its own: a temporary SQLite file, or a fresh PostgreSQL schema
that is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 20
POSTGRES_URL = os.environ.get(
    "TOPCHEF_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SERVER_OPTIONS = ("--log-level", "warning", "--no-access-log")
"""Both TopChef and the baseline run without per-request log lines, so the
figures compare request handling and not logging."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


BENCHMARKS_ROOT = Path(__file__).resolve().parent.parent
"""The directory that contains the ``benchmarks`` package."""


def child_environment(topchef_src: Path | None) -> dict[str, str]:
    """Return the environment of child processes that import ``topchef_src`` when it is given.

    Such a child must also run in ``child_directory(topchef_src)``, because
    ``python -m`` and ``python -c`` search the working directory first.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("TOPCHEF_DATABASE_URL", "DATABASE_URI")}
    if topchef_src is not None:
        paths = [str(topchef_src.resolve()), str(BENCHMARKS_ROOT), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    return env


def child_directory(topchef_src: Path | None) -> Path | None:
    """Return the working directory of child processes: ``topchef_src``, or None to inherit."""
    return None if topchef_src is None else topchef_src.resolve()


@dataclass
class Server:
    """A running server process: its port, its process and the file its log goes to."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss_mib(self) -> float:
        """Return the resident memory of the server process in MiB (Linux /proc)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.process.pid}")

    def cpu_seconds(self) -> float:
        """Return the CPU time (user and system) the server process used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_until_serving(server: Server, probe_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"server exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + probe_path, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not respond within {STARTUP_TIMEOUT_SECONDS} s")


@contextlib.contextmanager
def _server(command: list[str], *, env: dict[str, str], probe_path: str,
            cwd: Path | None = None) -> Iterator[Server]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="topchef-bench-log-") as log_dir:
        log_path = Path(log_dir) / "server.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen([*command, "--port", str(port)], stdout=log_file,
                                       stderr=subprocess.STDOUT, env=env, cwd=cwd)
        server = Server(port, process, log_path)
        try:
            _wait_until_serving(server, probe_path)
            yield server
        except Exception:
            print(f"server log (last lines):\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()


@contextlib.contextmanager
def topchef_server(database_url: str, *, topchef_src: Path | None) -> Iterator[Server]:
    """Run ``topchef serve`` on ``database_url`` until the block ends."""
    command = [sys.executable, "-m", "topchef", "serve", "--host", HOST,
               "--database-url", database_url, *SERVER_OPTIONS]
    with _server(command, env=child_environment(topchef_src), probe_path="/",
                 cwd=child_directory(topchef_src)) as server:
        yield server


@contextlib.contextmanager
def baseline_server() -> Iterator[Server]:
    """Run the bare echo endpoint of ``benchmarks.baseline_app`` until the block ends."""
    command = [sys.executable, "-m", "benchmarks.baseline_app", "--host", HOST]
    with _server(command, env=child_environment(None), probe_path="/") as server:
        yield server


def postgres_unreachable_reason() -> str | None:
    """Return why the benchmark PostgreSQL server cannot be used, or None when it can."""
    engine = sa.create_engine(_sqlalchemy_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        return f"no PostgreSQL server at {POSTGRES_URL}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


def postgres_server_version() -> str | None:
    engine = sa.create_engine(_sqlalchemy_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar())
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def database(store: str) -> Iterator[str]:
    """Yield the URL of an empty database on ``store`` ("sqlite" or "postgres"); drop it after."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="topchef-bench-db-") as directory:
            yield f"sqlite:///{Path(directory) / 'topchef.db'}"
        return

    schema = f"topchef_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_sqlalchemy_url(POSTGRES_URL), poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
