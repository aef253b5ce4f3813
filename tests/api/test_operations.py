"""/metrics, /healthz and /readyz on both stores, through the ASGI app in process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.api.test_contract import create_service, submit
from tests.conftest import fresh_postgres_schema
from topchef.api import create_app
from topchef.api.metrics import JobCountCollector
from topchef.broker import Broker, JobStatus
from topchef.broker.events import STREAMS_KEY
from topchef.broker.stream import HORIZON_KEY
from topchef.config import Settings
from topchef.store import open_sql_store, parse_database_url

JOB_COUNTERS = (
    "topchef_jobs_submitted", "topchef_jobs_claimed", "topchef_jobs_completed",
    "topchef_jobs_failed", "topchef_jobs_requeued", "topchef_lease_expiries",
)
SOME_SERVICE_ID = UUID("00000000-0000-4000-8000-000000000001")
FAMILIES = {
    "topchef_jobs": "gauge",
    **dict.fromkeys(JOB_COUNTERS, "counter"),
    "topchef_job_queue_wait_seconds": "histogram",
    "topchef_job_run_seconds": "histogram",
    "topchef_long_polls_open": "gauge",
    "topchef_event_streams_open": "gauge",
    "topchef_http_requests": "counter",
    "topchef_http_request_duration_seconds": "histogram",
}


async def scrape(client: httpx.AsyncClient) -> dict[str, list[Sample]]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = text_string_to_metric_families(response.text)
    return {family.name: list(family.samples) for family in families}


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    """Return the sample ``name`` whose labels include ``labels``; 0 when there is none."""
    family = name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    matching = [sample.value for sample in samples.get(family, [])
                if sample.name == name and labels.items() <= sample.labels.items()]
    assert len(matching) <= 1, matching
    return matching[0] if matching else 0.0


async def test_metrics_families_and_types(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    families = {family.name: family.type
                for family in text_string_to_metric_families(response.text)}

    for name, kind in FAMILIES.items():
        assert families.get(name) == kind, name


async def test_metrics_openmetrics_on_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics",
                                headers={"Accept": "application/openmetrics-text"})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_counters_follow_job_lifecycle(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    for number in range(3):
        await submit(client, service_id, number)
    claim = await client.post(f"/services/{service_id}/jobs/next", json={"limit": 2})
    first, second = claim.json()["data"]
    await client.patch(f"/jobs/{first['id']}", json={
        "status": "COMPLETED", "results": {"result": 1}, "lease": first["lease"]["token"]})
    await client.post(f"/jobs/{second['id']}/fail", json={
        "lease": second["lease"]["token"], "error": "boom", "retry": True})

    samples = await scrape(client)

    assert value(samples, "topchef_jobs_submitted_total", service=service_id) == 3
    assert value(samples, "topchef_jobs_claimed_total", service=service_id) == 2
    assert value(samples, "topchef_jobs_completed_total", service=service_id) == 1
    assert value(samples, "topchef_jobs_requeued_total", service=service_id) == 1
    assert value(samples, "topchef_jobs_failed_total", service=service_id) == 0
    assert value(samples, "topchef_job_queue_wait_seconds_count", service=service_id) == 2
    assert value(samples, "topchef_job_run_seconds_count", service=service_id) == 1
    assert value(samples, "topchef_jobs", service=service_id, status="REGISTERED") == 2
    assert value(samples, "topchef_jobs", service=service_id, status="COMPLETED") == 1
    assert value(samples, "topchef_jobs", service=service_id, status="WORKING") == 0


async def test_classic_patch_counts_claim_and_failure(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    job = await submit(client, service_id, 1)
    await client.patch(f"/jobs/{job['id']}", json={"status": "WORKING"})
    await client.patch(f"/jobs/{job['id']}", json={"status": "ERROR"})

    samples = await scrape(client)

    assert value(samples, "topchef_jobs_claimed_total", service=service_id) == 1
    assert value(samples, "topchef_jobs_failed_total", service=service_id) == 1
    assert value(samples, "topchef_jobs", service=service_id, status="ERROR") == 1


async def test_batch_and_cancel_counted(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    batch = {"jobs": [{"parameters": {"value": number}} for number in range(4)]}
    created = await client.post(f"/services/{service_id}/jobs/batch", json=batch)
    job_id = created.json()["data"][0]["id"]
    await client.post(f"/jobs/{job_id}/cancel")

    samples = await scrape(client)

    assert value(samples, "topchef_jobs_submitted_total", service=service_id) == 4
    assert value(samples, "topchef_jobs_failed_total", service=service_id) == 1


async def test_http_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/services")
    await client.get("/jobs/not-a-uuid")
    await client.get("/no/such/path")
    await client.delete("/validator")

    samples = await scrape(client)

    assert value(samples, "topchef_http_requests_total",
                 route="services", method="GET", status="200") == 1
    assert value(samples, "topchef_http_requests_total",
                 route="job", method="GET", status="404") == 1
    assert value(samples, "topchef_http_requests_total",
                 route="unmatched", method="GET", status="404") == 1
    assert value(samples, "topchef_http_requests_total",
                 route="validator", method="DELETE", status="405") == 1
    assert value(samples, "topchef_http_request_duration_seconds_count",
                 route="services", method="GET", status="200") == 1


async def test_unknown_method_counted_as_other(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/services")

    samples = await scrape(client)

    assert value(samples, "topchef_http_requests_total", route="services", method="other") == 1


async def test_open_long_poll_gauge(client: httpx.AsyncClient) -> None:
    service_id = await create_service(client)
    waiting = asyncio.create_task(
        client.post(f"/services/{service_id}/jobs/next", json={"wait_seconds": 10}))
    samples: dict[str, list[Sample]] = {}
    for _ in range(100):  # until the claim has registered its wait
        samples = await scrape(client)
        if value(samples, "topchef_long_polls_open") >= 1:
            break
        await asyncio.sleep(0.02)

    await submit(client, service_id, 1)
    claimed = await waiting

    assert value(samples, "topchef_long_polls_open") == 1
    assert claimed.status_code == 200
    assert value(await scrape(client), "topchef_long_polls_open") == 0


async def test_event_stream_gauge_reads_feed(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    broker = app.state.broker
    broker.feed.open_streams = 3

    # Streams wait on the notifier too, under keys of their own that no long poll uses.
    with broker.notifier.waiter(HORIZON_KEY), broker.notifier.waiter(STREAMS_KEY):
        samples = await scrape(client)

    assert value(samples, "topchef_event_streams_open") == 3
    assert value(samples, "topchef_long_polls_open") == 0


async def test_two_apps_keep_separate_registries(sqlite_url: str) -> None:
    first = create_app(Settings(database_url=sqlite_url))
    second = create_app(Settings(database_url=sqlite_url))

    first.state.metrics.jobs_submitted(SOME_SERVICE_ID, 2)

    assert first.state.metrics.registry is not second.state.metrics.registry
    assert b"topchef_jobs_submitted_total{" not in second.state.metrics.render(
        accept="")[0]


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["data"] == {"status": "alive"}


async def test_readyz_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["data"] == {"status": "ready"}


@contextlib.asynccontextmanager
async def app_on_store(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose broker uses ``database_url``, with no migration at startup.

    The lifespan does not run, so the app starts even when the database is down.
    """
    settings = Settings(database_url=database_url)
    app = create_app(settings)
    store = open_sql_store(parse_database_url(database_url))
    app.state.broker = Broker(store)
    app.state.settings = settings
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as test_client:
            yield test_client
    finally:
        await store.close()


def not_ready_detail(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    (error,) = response.json()["errors"]
    assert error["status_code"] == 503
    assert error["title"] == "Not Ready"
    detail: str = error["detail"]
    return detail


async def test_readyz_unreachable_postgres() -> None:
    async with app_on_store("postgresql://postgres@127.0.0.1:9/test") as client:
        response = await client.get("/readyz")

    assert "cannot reach the database" in not_ready_detail(response)


async def test_readyz_unmigrated_sqlite(sqlite_url: str) -> None:
    async with app_on_store(sqlite_url) as client:
        response = await client.get("/readyz")

    assert "schema is at revision none" in not_ready_detail(response)


@pytest.mark.postgres
async def test_readyz_outdated_postgres_schema() -> None:
    with fresh_postgres_schema() as database_url:
        app = create_app(Settings(database_url=database_url))
        async with app.router.lifespan_context(app):
            engine = sa.create_engine(parse_database_url(database_url).sync_url)
            with engine.begin() as connection:
                connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'old'")
            engine.dispose()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/readyz")

    assert "schema is at revision old" in not_ready_detail(response)


async def test_metrics_unreachable_store_is_503() -> None:
    async with app_on_store("postgresql://postgres@127.0.0.1:9/test") as client:
        response = await client.get("/metrics")

    assert response.status_code == 503
    assert response.json()["errors"][0]["status_code"] == 503


async def test_job_counts_shared_by_close_scrapes() -> None:
    collector = JobCountCollector()
    calls = 0

    async def count() -> dict[tuple[UUID, JobStatus], int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {(SOME_SERVICE_ID, JobStatus.REGISTERED): calls}

    await asyncio.gather(*(collector.refresh(count) for _ in range(5)))
    await collector.refresh(count)

    assert calls == 1
    assert collector.counts == {(SOME_SERVICE_ID, JobStatus.REGISTERED): 1}
