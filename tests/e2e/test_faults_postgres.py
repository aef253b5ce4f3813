"""PostgreSQL connections dropped under load: 503 for the requests caught, nothing lost.

The test terminates only the backends whose application_name is its own,
never the cluster, so other tests on the same PostgreSQL server run on.
"""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import start_server
from tests.e2e.faults_load import (
    Load,
    Target,
    check_nothing_lost,
    create_service,
    describe,
    stored_jobs,
)
from tests.e2e.workers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

DROP_ROUNDS = 3
LOAD_SECONDS = (0.3, 1.2)
"""The load runs for a random time in this range before each drop."""
RECOVERY_TIMEOUT_SECONDS = 15


def terminate_backends(application_name: str) -> int:
    """Terminate the PostgreSQL backends of one application_name; return how many."""
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            dropped = connection.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ), {"name": application_name}).scalar_one()
    finally:
        engine.dispose()
    return int(dropped)


def test_dropped_connections_answer_503(postgres_url: str, tmp_path: Path) -> None:
    application_name = f"topchef_faults_{uuid.uuid4().hex[:8]}"
    database_url = f"{postgres_url}&application_name={application_name}"
    server = start_server(database_url, tmp_path / "server.log")
    load = Load(Target(server.url), create_service(server.url))
    rng = random.Random()
    started = time.monotonic()

    load.start()
    try:
        dropped = 0
        for _ in range(DROP_ROUNDS):
            time.sleep(rng.uniform(*LOAD_SECONDS))
            dropped += terminate_backends(application_name)
        acknowledged_at_last_drop = len(load.ledger.acknowledged)
        wait_until(lambda: len(load.ledger.acknowledged) > acknowledged_at_last_drop + 20,
                   timeout=RECOVERY_TIMEOUT_SECONDS, what="submissions after the last drop")

        load.stop_submitting()
        resubmitted = load.resubmit_unanswered()
        load.drain(database_url)
    finally:
        load.stop_all()
        server.stop()
    elapsed = time.monotonic() - started

    ledger = load.ledger
    problems = check_nothing_lost(database_url, ledger)
    print(f"\n{DROP_ROUNDS} drops ({dropped} connections) in {elapsed:.1f} s: "
          f"{len(stored_jobs(database_url))} jobs stored, "
          f"{describe(ledger, resubmitted=resubmitted)}")
    assert dropped > 0
    assert problems == []
    assert "unexpected error" not in server.log()


def read_only_url(database_url: str) -> str:
    """Return ``database_url`` with every transaction read-only, as on a hot standby."""
    url = sa.make_url(database_url)
    options = f"{url.query.get('options', '')} -cdefault_transaction_read_only=on".strip()
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_read_only_server_answers_503(postgres_url: str, tmp_path: Path) -> None:
    writer = start_server(postgres_url, tmp_path / "writer.log")
    service_id = create_service(writer.url)
    writer.stop()

    server = start_server(read_only_url(postgres_url), tmp_path / "server.log")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        service_read = http.get(f"/services/{service_id}")
        rejected = http.post(f"/services/{service_id}/jobs", json={"parameters": {"key": "a"}})
    server.stop()

    assert service_read.status_code == 200
    assert rejected.status_code == 503, rejected.text
    assert "accepts no writes" in rejected.json()["errors"][0]["detail"]
    assert "database unavailable on postgresql" in server.log()
