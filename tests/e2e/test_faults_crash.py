"""``kill -9`` of the server under load loses no acknowledged job or completion.

Each test runs submitters and workers against a server, kills the server
with SIGKILL a few times at random moments, restarts it on the same
database, then drains the queue and compares the database with every response
the clients got.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.faults_load import (
    Load,
    Target,
    check_nothing_lost,
    create_service,
    describe,
    stored_jobs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

KILL_ROUNDS = 3
LOAD_SECONDS = (0.5, 2.0)
"""The load runs for a random time in this range before each kill."""


def kill(server: ServerProcess) -> int:
    server.process.kill()
    return server.process.wait()


def test_kill_9_loses_no_acknowledged_work(database_url: str, tmp_path: Path) -> None:
    rng = random.Random()
    server = start_server(database_url, tmp_path / "server-0.log")
    target = Target(server.url)
    load = Load(target, create_service(server.url))
    started = time.monotonic()

    load.start()
    try:
        for kill_round in range(1, KILL_ROUNDS + 1):
            time.sleep(rng.uniform(*LOAD_SECONDS))
            code = kill(server)
            ledger = load.ledger
            print(f"\nround {kill_round}: server killed ({code}) with "
                  f"{len(ledger.acknowledged)} jobs acknowledged and "
                  f"{len(ledger.completed)} completions acknowledged so far")
            server = start_server(database_url, tmp_path / f"server-{kill_round}.log")
            target.url = server.url
        time.sleep(rng.uniform(*LOAD_SECONDS))

        load.stop_submitting()
        resubmitted = load.resubmit_unanswered()
        load.drain(database_url)
    finally:
        load.stop_all()
        server.stop()
    elapsed = time.monotonic() - started

    ledger = load.ledger
    problems = check_nothing_lost(database_url, ledger)
    print(f"{KILL_ROUNDS} kills in {elapsed:.1f} s: {len(stored_jobs(database_url))} jobs "
          f"stored, {describe(ledger, resubmitted=resubmitted)}")
    assert problems == []
