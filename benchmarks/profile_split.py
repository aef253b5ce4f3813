"""Split a py-spy profile of the server into the parts of a request's path.

Record the server while a scenario runs, then classify the samples::

    py-spy record --pid SERVER_PID --duration 18 --rate 200 --format raw --threads -o prof.txt
    python -m benchmarks.profile_split prof.txt --requests N

Each sample goes to the category of its innermost recognised frame. With
``--requests`` (how many requests were served while recording) the split is
also printed in milliseconds of sampled thread time per request.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

UVLOOP_LEAF = "Runner.run (asyncio/runners.py"
"""A main-thread sample whose innermost Python frame is the loop runner is in
uvloop's C code: socket reads and writes, the httptools parser, epoll, callbacks."""
CATEGORIES = (
    ("logging", ("logging/",)),
    ("JSON decode/encode and rendering", ("orjson", "topchef/api/envelope.py",
                                          "topchef/api/views.py", "topchef/api/requests.py",
                                          "starlette/responses.py")),
    ("validation (jsonschema-rs)", ("jsonschema_rs", "topchef/broker/schemas.py")),
    ("SQL (SQLAlchemy, aiosqlite/psycopg)", ("sqlalchemy/", "aiosqlite/", "psycopg/")),
    ("HTTP protocol (uvicorn)", ("uvicorn/protocols",)),
    ("routing and middleware (Starlette)", ("starlette/", "topchef/api/override.py")),
    ("broker and store code", ("topchef/broker/", "topchef/store/", "topchef/api/")),
)
SQLITE_CALL = "aiosqlite/core.py:63"
"""The aiosqlite worker thread's line that runs a queued SQLite call (execute, commit)."""
SQLITE_WAIT = "aiosqlite/core.py:59"
"""The aiosqlite worker thread's line that waits for the next queued call."""


def categorize(frames: list[str]) -> str:
    if frames[-1].startswith(UVLOOP_LEAF):
        return "uvloop C code (socket I/O, HTTP parser, epoll)"
    if frames[-1].startswith(f"_connection_worker_thread ({SQLITE_CALL}"):
        return "SQLite call on its thread (execute, commit, fsync)"
    if frames[-1].startswith(f"_connection_worker_thread ({SQLITE_WAIT}"):
        return "SQLite thread waiting for work"
    for frame in reversed(frames):
        for name, patterns in CATEGORIES:
            if any(pattern in frame for pattern in patterns):
                return name
    return "other (asyncio, interpreter)"


def split(path: Path) -> dict[str, collections.Counter[str]]:
    """Return sample counts per thread and category of a py-spy ``--format raw --threads`` file."""
    threads: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        threads[thread][categorize(frames[1:] or frames)] += int(count)
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output recorded with --threads")
    parser.add_argument("--rate", type=float, default=200, help="py-spy samples per second")
    parser.add_argument("--requests", type=int, help="requests served while recording")
    arguments = parser.parse_args()

    for thread, counts in sorted(split(arguments.profile).items(),
                                 key=lambda item: -sum(item[1].values())):
        total = sum(counts.values())
        print(f"{thread}: {total} samples ({total / arguments.rate:.1f} s)")
        for name, samples in counts.most_common():
            line = f"  {samples / total * 100:5.1f}%  {name}"
            if arguments.requests:
                line += f"  ({samples / arguments.rate / arguments.requests * 1000:.2f} ms/request)"
            print(line)


if __name__ == "__main__":
    main()
