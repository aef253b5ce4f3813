"""Routes under ``/services``: register services, check in, submit and peek at jobs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from topchef.api import schemas, views
from topchef.api.envelope import no_content, success
from topchef.api.requests import check_body, path_id, read_json_object
from topchef.api.state import broker_of
from topchef.broker import NewService, ServiceChanges
from topchef.broker.models import DEFAULT_SERVICE_TIMEOUT_SECONDS

SERVICE_CREATED = "service successfully created"


async def list_services(request: Request) -> Response:
    services = await broker_of(request).list_services()
    meta = {
        "service_schema": schemas.SERVICE_OVERVIEW_SCHEMA,
        "new_service_schema": schemas.NEW_SERVICE_SCHEMA,
    }
    data = [views.service_overview(service) for service in services]
    return success(data, self_url=str(request.url), meta=meta)


async def create_service(request: Request) -> Response:
    body = await read_json_object(request)
    assert body is not None  # read_json_object returns None only when optional
    check_body(body, schemas.NEW_SERVICE)

    new = NewService(
        name=body["name"],
        description=body["description"],
        job_registration_schema=body["job_registration_schema"],
        job_result_schema=body["job_result_schema"],
        timeout=body.get("timeout", DEFAULT_SERVICE_TIMEOUT_SECONDS),
    )
    service = await broker_of(request).create_service(new)

    location = str(request.url_for("service", service_id=str(service.id)))
    data = {"message": SERVICE_CREATED, "id": str(service.id)}
    return success(data, self_url=str(request.url), status_code=201,
                   headers={"Location": location})


async def _service_response(request: Request, service_id: Any) -> Response:
    broker = broker_of(request)
    service = await broker.get_service(service_id)
    jobs = await broker.list_jobs(service_id)
    data = views.service_detail(service, jobs, now=broker.now())
    return success(data, self_url=str(request.url), meta={"service_schema": schemas.SERVICE_SCHEMA})


async def get_service(request: Request) -> Response:
    return await _service_response(request, path_id(request, "service_id"))


async def patch_service(request: Request) -> Response:
    """Check the service in; an optional body changes its name, description, flag or timeout."""
    service_id = path_id(request, "service_id")
    body = await read_json_object(request, optional=True) or {}
    check_body(body, schemas.SERVICE_PATCH)

    changes = ServiceChanges(
        name=body.get("name"),
        description=body.get("description"),
        is_available=body.get("is_available", body.get("is_service_available")),
        timeout=body.get("timeout"),
    )
    await broker_of(request).check_in(service_id, changes)
    return await _service_response(request, service_id)


async def list_service_jobs(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    broker = broker_of(request)
    service = await broker.get_service(service_id)
    jobs = await broker.list_jobs(service_id)

    meta = {
        "new_job_schema": schemas.new_job_schema(service.job_registration_schema),
        "data_schema": {"type": "array", "items": schemas.JOB_SCHEMA},
    }
    return success([views.job_detail(job) for job in jobs], self_url=str(request.url), meta=meta)


async def submit_job(request: Request) -> Response:
    service_id = path_id(request, "service_id")
    body = await read_json_object(request)
    assert body is not None  # read_json_object returns None only when optional
    check_body(body, schemas.NEW_JOB_ENVELOPE)

    job = await broker_of(request).submit_job(service_id, body["parameters"])

    location = str(request.url_for("job", job_id=str(job.id)))
    return success(
        views.job_detail(job),
        self_url=str(request.url),
        meta=f"new job ID is {job.id}",
        status_code=201,
        headers={"Location": location},
    )


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
