"""Closed-loop HTTP load: wrk where it is installed, else client processes on raw asyncio.

Each connection sends the same POST again as soon as the previous response
arrives, for a fixed duration. The result is the request rate and the
latency percentiles over every request.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from benchmarks.rawhttp import Connection
from benchmarks.results import percentile

WRK_THREADS = 2
WRK_TIMEOUT = "10s"
"""wrk counts a response slower than this as a timeout error (wrk's default is 2 s,
which batch requests on a loaded machine exceed)."""
PYTHON_CLIENT_PROCESSES = 2
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    failed: int
    """Responses outside 2xx and socket errors."""


def load_generator_name() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return f"python raw asyncio client ({PYTHON_CLIENT_PROCESSES} processes; wrk not found)"
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first_line = (version.stdout or version.stderr).strip().splitlines()[0]
    return f"{wrk} ({first_line.split(' [')[0]}, {WRK_THREADS} threads)"


def run_post_load(url: str, body: bytes, *, connections: int, seconds: float) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` connections for ``seconds``."""
    if shutil.which("wrk"):
        return _run_wrk(url, body, connections=connections, seconds=seconds)
    return _run_python(url, body, connections=connections, seconds=seconds)


def _lua_script(body: bytes) -> str:
    text = body.decode()
    if "]==]" in text:
        raise ValueError("the request body cannot be quoted as a Lua long string")
    return ('wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{text}]==]\n")


def _run_wrk(url: str, body: bytes, *, connections: int, seconds: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_lua_script(body))
        script.flush()
        command = ["wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}",
                   f"-d{max(1, round(seconds))}s", "--timeout", WRK_TIMEOUT, "--latency",
                   "-s", script.name, url]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk_output(completed.stdout)


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk_output(output: str) -> LoadResult:
    """Read the rate, the latency percentiles and the failures from ``wrk --latency`` output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", output, re.MULTILINE))

    failed = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        failed += int(non_2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    if socket_errors:
        failed += sum(int(count) for count in socket_errors.groups())

    return LoadResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=_milliseconds(percentiles["50"]) if "50" in percentiles else None,
        p99_ms=_milliseconds(percentiles["99"]) if "99" in percentiles else None,
        requests=int(total.group(1)),
        failed=failed,
    )


def _run_python(url: str, body: bytes, *, connections: int, seconds: float) -> LoadResult:
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if match is None:
        raise ValueError(f"the Python load client needs http://HOST:PORT/PATH, not {url}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)

    processes = min(PYTHON_CLIENT_PROCESSES, connections)
    shares = [connections // processes + (index < connections % processes)
              for index in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        parts = pool.starmap(_client_process,
                             [(host, port, path, body, share, seconds) for share in shares])

    latencies = [latency for part in parts for latency in part[0]]
    failed = sum(part[1] for part in parts)
    return LoadResult(
        requests_per_s=len(latencies) / seconds,
        p50_ms=_scaled(percentile(latencies, 0.5)),
        p99_ms=_scaled(percentile(latencies, 0.99)),
        requests=len(latencies),
        failed=failed,
    )


def _scaled(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _client_process(host: str, port: int, path: str, body: bytes, connections: int,
                    seconds: float) -> tuple[list[float], int]:
    return asyncio.run(_drive(host, port, path, body, connections, seconds))


async def _drive(host: str, port: int, path: str, body: bytes, connections: int,
                 seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = [0]
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        connection = await Connection.open(host, port)
        try:
            while time.monotonic() < deadline:
                started = time.monotonic()
                status, _ = await connection.request("POST", path, body)
                latencies.append(time.monotonic() - started)
                if not 200 <= status < 300:
                    failures[0] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return latencies, failures[0]

