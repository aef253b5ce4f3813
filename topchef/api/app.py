"""The ASGI application: routes, middleware, error handlers and the store's lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from topchef.api import jobs, root, services
from topchef.api.errors import EXCEPTION_HANDLERS
from topchef.api.override import MethodOverrideMiddleware
from topchef.broker import Broker
from topchef.config import Settings, database_url_from_environment
from topchef.store import open_sql_store, parse_database_url, upgrade

log = logging.getLogger(__name__)

ROUTES = [
    Route("/", root.api_metadata, methods=["GET"], name="root"),
    Route("/services", services.list_services, methods=["GET"], name="services"),
    Route("/services", services.create_service, methods=["POST"]),
    Route("/services/{service_id}", services.get_service, methods=["GET"], name="service"),
    Route("/services/{service_id}", services.patch_service, methods=["PATCH"]),
    Route("/services/{service_id}/jobs", services.list_service_jobs, methods=["GET"],
          name="service_jobs"),
    Route("/services/{service_id}/jobs", services.submit_job, methods=["POST"]),
    Route("/services/{service_id}/queue", services.queue, methods=["GET"], name="queue"),
    Route("/services/{service_id}/jobs/next", services.next_job, methods=["GET"],
          name="next_job"),
    Route("/jobs", jobs.list_jobs, methods=["GET"], name="jobs"),
    Route("/jobs/{job_id}", jobs.get_job, methods=["GET"], name="job"),
    Route("/jobs/{job_id}", jobs.patch_job, methods=["PATCH"]),
    Route("/validator", root.describe_validator, methods=["GET"], name="validator"),
    Route("/validator", root.validate, methods=["POST"]),
]


def create_app(settings: Settings) -> Starlette:
    """Build the application; the store opens at startup and closes at shutdown."""
    target = parse_database_url(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if settings.migrate_on_start:
            upgrade(target)
        store = open_sql_store(target)
        app.state.broker = Broker(store)
        log.info("store opened: %s", store.description)
        try:
            yield {}
        finally:
            await store.close()
            log.info("store closed: %s", store.description)

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(MethodOverrideMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


def create_app_from_environment() -> Starlette:
    """Build the application from environment variables, for ``uvicorn --factory``."""
    return create_app(Settings(database_url=database_url_from_environment()))
