"""Routes under ``/services``: register services, check in, submit, peek at and claim jobs."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from topchef.api import query, schemas, views
from topchef.api.envelope import no_content, success
from topchef.api.requests import check_body, path_id, read_json_object, required_json_object
from topchef.api.state import broker_of
from topchef.broker import (
    ClaimRequest,
    InvalidInput,
    NewJob,
    NewService,
    Problem,
    ServiceChanges,
    ServiceSettings,
)

SERVICE_CREATED = "service successfully created"
SERVICE_DETAIL_JOBS = 100
"""How many of its newest jobs a service detail lists; the rest are paged at /jobs."""
IDEMPOTENCY_KEY_MAX_CHARS = 255


def _settings(body: dict[str, Any]) -> ServiceSettings:
    return ServiceSettings(
        timeout=body.get("timeout"),
        lease_seconds=body.get("lease_seconds"),
        max_attempts=body.get("max_attempts"),
        retry_delay_seconds=body.get("retry_delay_seconds"),
        retry_delay_max_seconds=body.get("retry_delay_max_seconds"),
        retention_seconds=body.get("retention_seconds"),
        clear_retention="retention_seconds" in body and body["retention_seconds"] is None,
        callback_url=body.get("callback_url"),
        clear_callback_url="callback_url" in body and body["callback_url"] is None,
    )


async def list_services(request: Request) -> Response:
    services = await broker_of(request).list_services()
    meta = {
        "service_schema": schemas.SERVICE_OVERVIEW_SCHEMA,
        "new_service_schema": schemas.NEW_SERVICE_SCHEMA,
    }
    data = [views.service_overview(service) for service in services]
    return success(data, self_url=str(request.url), meta=meta)


async def create_service(request: Request) -> Response:
    body = await required_json_object(request)
    check_body(body, schemas.NEW_SERVICE)

    new = NewService(
        name=body["name"],
        description=body["description"],
        job_registration_schema=body["job_registration_schema"],
        job_result_schema=body["job_result_schema"],
        settings=_settings(body),
    )
    service = await broker_of(request).create_service(new)

    location = str(request.url_for("service", service_id=str(service.id)))
    data = {"message": SERVICE_CREATED, "id": str(service.id)}
    return success(data, self_url=str(request.url), status_code=201,
                   headers={"Location": location})


async def _service_response(request: Request, service_id: UUID, *, full: bool) -> Response:
    broker = broker_of(request)
    service, jobs, counts = await broker.service_jobs_summary(
        service_id, recent=SERVICE_DETAIL_JOBS
    )

    if full:
        data = views.service_full(service, jobs, counts, now=broker.now())
    else:
        data = views.service_detail(service, jobs, now=broker.now())
    links = {}
    if sum(counts.values()) > len(jobs):
        links["jobs"] = str(request.url_for("service_jobs", service_id=str(service_id)))
    schema = schemas.SERVICE_FULL_SCHEMA if full else schemas.SERVICE_SCHEMA
    return success(data, self_url=str(request.url), meta={"service_schema": schema}, links=links)


async def get_service(request: Request) -> Response:
    full = query.view(request) == "full"
    return await _service_response(request, path_id(request, "service_id"), full=full)


async def patch_service(request: Request) -> Response:
    """Check the service in; an optional body changes its name, description, flag or settings."""
    service_id = path_id(request, "service_id")
    full = query.view(request) == "full"
    body = await read_json_object(request, optional=True) or {}
    check_body(body, schemas.SERVICE_PATCH)

    changes = ServiceChanges(
        name=body.get("name"),
        description=body.get("description"),
        is_available=_availability(body),
        settings=_settings(body),
    )
    await broker_of(request).check_in(service_id, changes)
    return await _service_response(request, service_id, full=full)


def _availability(body: dict[str, Any]) -> bool | None:
    """Read is_available, or its alias is_service_available, the field a client reads back."""
    values = {body[name] for name in ("is_available", "is_service_available") if name in body}
    if len(values) > 1:
        raise InvalidInput(Problem(
            "Invalid Request",
            "is_available and is_service_available are the same setting and disagree; "
            "send one of them",
        ))
    return values.pop() if values else None


async def mark_unavailable(request: Request) -> Response:
    """Mark the service unavailable and timed out now (an administrator's action)."""
    service_id = path_id(request, "service_id")
    full = query.view(request) == "full"
    await broker_of(request).mark_unavailable(service_id)
    return await _service_response(request, service_id, full=full)


async def delete_service(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    await broker_of(request).delete_service(service_id, force=query.flag(request, "force"))
    return no_content()


async def list_service_jobs(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    full = query.view(request) == "full"
    newest = query.newest_first(request)
    broker = broker_of(request)
    service = await broker.get_service(service_id)
    page = await broker.list_jobs(
        service_id,
        statuses=query.statuses(request),
        after_seq=query.cursor(request, newest=newest),
        limit=query.page_size(request),
        newest_first=newest,
    )

    render = views.job_full if full else views.job_detail
    meta = {
        "new_job_schema": schemas.new_job_schema(service.job_registration_schema),
        "data_schema": {"type": "array",
                        "items": schemas.JOB_FULL_SCHEMA if full else schemas.JOB_SCHEMA},
    }
    return success([render(job) for job in page.jobs], self_url=str(request.url), meta=meta,
                   links=query.next_link(request, page.next_after_seq, newest=newest))


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_CHARS:
        raise InvalidInput(Problem(
            "Invalid Header",
            f"the Idempotency-Key header must have 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters",
        ))
    return key


async def submit_job(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    render = views.job_full if query.view(request) == "full" else views.job_detail
    key = _idempotency_key(request)
    body = await required_json_object(request)
    check_body(body, schemas.NEW_JOB_ENVELOPE)

    new = NewJob(parameters=body["parameters"], priority=body.get("priority", 0))
    job, created = await broker_of(request).submit_job(service_id, new, idempotency_key=key)

    location = str(request.url_for("job", job_id=str(job.id)))
    headers = {"Location": location}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return success(
        render(job),
        self_url=str(request.url),
        meta=f"new job ID is {job.id}",
        status_code=201 if created else 200,
        headers=headers,
    )


async def submit_batch(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    render = views.job_full if query.view(request) == "full" else views.job_detail
    if "idempotency-key" in request.headers:
        raise InvalidInput(Problem(
            "Invalid Header",
            "a batch submission does not take an Idempotency-Key; it is one transaction, "
            "so a batch that got no answer can be checked with GET /services/{id}/jobs",
        ))
    body = await required_json_object(request)
    check_body(body, schemas.BATCH_REQUEST)

    batch = [NewJob(parameters=item["parameters"], priority=item.get("priority", 0))
             for item in body["jobs"]]
    jobs = await broker_of(request).submit_jobs(service_id, batch)
    return success([render(job) for job in jobs], self_url=str(request.url),
                   meta=f"created {len(jobs)} jobs", status_code=201)


async def queue(request: Request) -> Response:
    jobs = await broker_of(request).peek_queue(path_id(request, "service_id"))
    if not jobs:
        return no_content()
    return success(
        [views.job_detail(job) for job in jobs],
        self_url=str(request.url),
        meta={"data_schema": {"type": "array", "items": schemas.JOB_SCHEMA}},
    )


async def next_job(request: Request) -> Response:
    jobs = await broker_of(request).peek_queue(path_id(request, "service_id"), limit=1)
    if not jobs:
        return no_content()
    return success(
        views.job_detail(jobs[0]),
        self_url=str(request.url),
        meta={"data_schema": schemas.JOB_SCHEMA},
    )


async def _set_when_disconnected(request: Request, disconnected: asyncio.Event) -> None:
    """Set ``disconnected`` when the client closes the connection, so a long poll claims nothing."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return


async def claim(request: Request) -> Response:
    """Claim the next job(s) under a lease, optionally waiting for one to arrive."""
    service_id = path_id(request, "service_id")
    body = await read_json_object(request, optional=True) or {}
    check_body(body, schemas.CLAIM_REQUEST)

    disconnected = asyncio.Event()
    claim_request = ClaimRequest(
        worker=body.get("worker"),
        lease_seconds=body.get("lease_seconds"),
        wait_seconds=body.get("wait_seconds", 0),
        limit=body.get("limit", 1),
        disconnected=disconnected,
    )
    watcher = asyncio.create_task(_set_when_disconnected(request, disconnected))
    try:
        jobs = await broker_of(request).dispatch.claim(service_id, claim_request)
    finally:
        watcher.cancel()
    if not jobs:
        return no_content()

    claimed = [views.job_full(job, include_token=True) for job in jobs]
    data: Any = claimed if "limit" in body else claimed[0]
    return success(data, self_url=str(request.url))
