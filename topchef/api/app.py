"""The ASGI application: routes, middleware, error handlers and the store's lifetime."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from topchef.api import api_docs, events, jobs, operations, root, services
from topchef.api.access import access_middleware
from topchef.api.background import start_webhook_delivery, stream_settings, webhook_settings_of
from topchef.api.cors import cors_middleware
from topchef.api.errors import EXCEPTION_HANDLERS
from topchef.api.metrics import Metrics
from topchef.api.override import MethodOverrideMiddleware
from topchef.api.request_log import RequestLogMiddleware
from topchef.broker import Broker
from topchef.broker.maintenance import run_maintenance
from topchef.config import Settings, settings_from_environment
from topchef.logs import apply_log_format
from topchef.store import check_current, open_sql_store, parse_database_url, upgrade
from topchef.ui import dashboard_routes

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
SignalHandler = Callable[[int, FrameType | None], None]


def resource(path: str, name: str, **handlers: Endpoint) -> Route:
    """Route every method of one path through one Route, so a 405 lists them all in Allow."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, dispatch, methods=list(handlers), name=name)


ROUTES = [
    resource("/", "root", GET=root.api_metadata),
    resource("/services", "services", GET=services.list_services, POST=services.create_service),
    resource("/services/{service_id}", "service", GET=services.get_service,
             PATCH=services.patch_service, DELETE=services.delete_service),
    resource("/services/{service_id}/unavailable", "service_unavailable",
             POST=services.mark_unavailable),
    resource("/services/{service_id}/jobs", "service_jobs",
             GET=services.list_service_jobs, POST=services.submit_job),
    resource("/services/{service_id}/jobs/batch", "batch", POST=services.submit_batch),
    resource("/services/{service_id}/queue", "queue", GET=services.queue),
    resource("/services/{service_id}/jobs/next", "next_job",
             GET=services.next_job, POST=services.claim),
    resource("/jobs", "jobs", GET=jobs.list_jobs),
    resource("/jobs/{job_id}", "job", GET=jobs.get_job, PATCH=jobs.patch_job,
             DELETE=jobs.delete_job),
    resource("/jobs/{job_id}/heartbeat", "heartbeat", POST=jobs.heartbeat),
    resource("/jobs/{job_id}/fail", "fail", POST=jobs.fail),
    resource("/jobs/{job_id}/cancel", "cancel", POST=jobs.cancel),
    resource("/validator", "validator", GET=root.describe_validator, POST=root.validate),
    resource("/events", "events", GET=events.stream_events),
    resource("/metrics", "metrics", GET=operations.metrics),
    resource("/healthz", "healthz", GET=operations.healthz),
    resource("/readyz", "readyz", GET=operations.readyz),
    resource("/openapi.json", "openapi", GET=api_docs.openapi_document),
    resource("/docs", "docs", GET=api_docs.docs_page),
]


def create_app(settings: Settings) -> Starlette:
    """Build the application; the store opens at startup and closes at shutdown."""
    target = parse_database_url(settings.database_url)
    webhook_settings = webhook_settings_of(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if settings.migrate_on_start:
            upgrade(target)
        else:
            check_current(target)
        store = open_sql_store(target, pool_size=settings.pool_size,
                               statement_timeout_ms=settings.statement_timeout_ms)
        broker = Broker(store, stream_settings=stream_settings(settings),
                        webhook_allow_hosts=webhook_settings.allow_hosts, observer=metrics)
        app.state.broker = broker
        app.state.settings = settings
        metrics.follow_open_waits(long_polls=broker.open_long_polls,
                                  event_streams=lambda: broker.open_event_streams)
        log.info("store opened: %s", store.description)
        stop_sweeping = asyncio.Event()
        sweeper = asyncio.create_task(
            run_maintenance(broker, stop_sweeping,
                            lease_sweep_seconds=settings.lease_sweep_seconds,
                            purge_sweep_seconds=settings.purge_interval_seconds),
            name="topchef-maintenance",
        )
        deliverer = start_webhook_delivery(broker, webhook_settings, stop_sweeping)
        restore_signals = (
            _drain_on_stop_signals(broker) if settings.drain_on_stop_signals else lambda: None
        )
        try:
            async with store.listen(broker.events.receive):
                yield {}
        finally:
            restore_signals()
            stop_sweeping.set()
            await sweeper
            if deliverer is not None:
                await deliverer
            await store.close()
            log.info("store closed: %s", store.description)

    app = Starlette(
        routes=[*ROUTES, *dashboard_routes()],
        middleware=[
            Middleware(RequestLogMiddleware, metrics=metrics, log_requests=settings.access_log),
            *cors_middleware(settings),
            Middleware(MethodOverrideMiddleware),
            *access_middleware(settings),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app


def _drain_on_stop_signals(broker: Broker) -> Callable[[], None]:
    """Make SIGINT and SIGTERM end open long polls at once, then stop the server as before.

    uvicorn lets open requests finish before it stops. Without this, each long
    poll would delay the shutdown until its wait ran out or was cut off.
    Return a function that puts the previous handlers back.
    """
    loop = asyncio.get_running_loop()
    previous_handlers: dict[int, Any] = {}

    def chain(previous: Callable[[int, FrameType | None], Any]) -> SignalHandler:
        def handle(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(broker.dispatch.drain)
            previous(signum, frame)
        return handle

    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(stop_signal)
        if callable(previous):
            previous_handlers[stop_signal] = previous
            signal.signal(stop_signal, chain(previous))

    def restore() -> None:
        for stop_signal, previous in previous_handlers.items():
            signal.signal(stop_signal, previous)

    return restore


def create_app_from_environment() -> Starlette:
    """Build the application from the same environment variables ``topchef serve`` reads.

    For ``uvicorn --factory topchef.api:create_app_from_environment``.
    """
    settings = settings_from_environment()
    apply_log_format(settings.log_format)
    return create_app(settings)
