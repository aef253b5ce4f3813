from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from topchef.broker import Broker, ClaimRequest, NewJob, NewService
from topchef.broker.dispatch import WAIT_RECHECK_SECONDS
from topchef.broker.events import EventsRecorded, JobFinished, JobsAvailable, decode, encode
from topchef.store import open_sql_store, parse_database_url, upgrade


@pytest.mark.parametrize("event", [
    JobsAvailable(uuid4(), 3),
    JobsAvailable(uuid4(), 1, datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC)),
    JobFinished(uuid4()),
    EventsRecorded(),
])
def test_event_round_trips(event: JobsAvailable | JobFinished | EventsRecorded) -> None:
    assert decode(encode(event, "abc")) == ("abc", event)


@pytest.mark.parametrize("payload", ["", "x available nope 1", "x finished", "x other 1 2"])
def test_malformed_payload_ignored(payload: str) -> None:
    assert decode(payload) is None


async def test_wake_crosses_processes(postgres_url: str) -> None:
    """Two brokers on one PostgreSQL database stand in for two server processes."""
    target = parse_database_url(postgres_url)
    upgrade(target)
    store_a, store_b = open_sql_store(target), open_sql_store(target)
    waiting, submitting = Broker(store_a), Broker(store_b)
    try:
        async with store_a.listen(waiting.events.receive):
            service = await submitting.create_service(NewService(
                name="s", description="", job_registration_schema={}, job_result_schema={},
            ))
            claim = asyncio.create_task(waiting.dispatch.claim(
                service.id, ClaimRequest(worker="w", wait_seconds=30)
            ))
            await asyncio.sleep(0.5)  # let the listener connect and the claim start waiting

            submitted_at = time.monotonic()
            job, _ = await submitting.submit_job(service.id, NewJob({}))
            claimed = await asyncio.wait_for(claim, 10)
            gap = time.monotonic() - submitted_at
    finally:
        await store_a.close()
        await store_b.close()

    assert [c.id for c in claimed] == [job.id]
    assert gap < WAIT_RECHECK_SECONDS / 2, f"woken after {gap:.3f} s, by the recheck"
