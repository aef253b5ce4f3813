"""A description of the machine and the software versions a run measured."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import servers
from benchmarks.loadgen import load_generator_name


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _topchef(topchef_src: Path | None) -> dict[str, str]:
    """Return the version and location of the TopChef the servers import."""
    probe = ("import os, topchef; print(topchef.__version__); "
             "print(os.path.dirname(topchef.__file__))")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               check=True, env=servers.child_environment(topchef_src),
                               cwd=servers.child_directory(topchef_src))
    version, location = completed.stdout.split()
    commit = subprocess.run(["git", "-C", location, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"version": version, "path": location, "git_commit": commit or "unknown"}


def _redis_version() -> str | None:
    try:
        import redis
    except ImportError:
        return None
    from benchmarks.scenarios.celery_cycle import REDIS_URL

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        version = str(client.info("server")["redis_version"])
        client.close()
        return version
    except redis.RedisError:
        return None


def describe_machine(topchef_src: Path | None) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "topchef": _topchef(topchef_src),
        "uvicorn": _version("uvicorn"),
        "uvloop": _version("uvloop"),
        "httptools": _version("httptools"),
        "starlette": _version("starlette"),
        "orjson": _version("orjson"),
        "sqlalchemy": _version("sqlalchemy"),
        "sqlite": sqlite3.sqlite_version,
        "postgresql_server": servers.postgres_server_version(),
        "celery": _version("celery"),
        "redis_server": _redis_version(),
        "load_generator": load_generator_name(),
    }


def text_machine(machine: dict[str, Any]) -> str:
    lines = []
    for name, value in machine.items():
        if isinstance(value, dict):
            value = ", ".join(f"{key} {item}" for key, item in value.items())
        lines.append(f"{name + ':':<20} {value if value is not None else 'not available'}")
    return "\n".join(lines)
