"""Routes under ``/jobs``: read, wait for, change, heartbeat, fail, cancel and delete jobs."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from topchef.api import query, schemas, views
from topchef.api.envelope import no_content, success
from topchef.api.requests import check_body, path_id, required_json_object
from topchef.api.state import broker_of
from topchef.broker import InvalidInput, Job, JobPatch, JobStatus, Problem

READ_ONLY_JOB_FIELDS = ("id", "date_submitted", "parameters")


def _service_filter(request: Request) -> UUID | None:
    text = request.query_params.get("service_id")
    if text is None:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise query.InvalidQuery(f"service_id={text!r} is not a valid id") from None


async def list_jobs(request: Request) -> Response:
    full = query.view(request) == "full"
    newest = query.newest_first(request)
    page = await broker_of(request).list_jobs(
        _service_filter(request),
        statuses=query.statuses(request),
        after_seq=query.cursor(request, newest=newest),
        limit=query.page_size(request),
        newest_first=newest,
    )

    render = views.job_full if full else views.job_overview
    schema = schemas.JOB_FULL_SCHEMA if full else schemas.JOB_OVERVIEW_SCHEMA
    return success(
        [render(job) for job in page.jobs],
        self_url=str(request.url),
        meta={"data_schema": {"type": "array", "items": schema}},
        links=query.next_link(request, page.next_after_seq, newest=newest),
    )


def _job_response(request: Request, job: Job, *, full: bool) -> Response:
    data = views.job_full(job) if full else views.job_detail(job)
    meta = {
        "job_info_schema": schemas.JOB_FULL_SCHEMA if full else schemas.JOB_SCHEMA,
        "patch_request_schema": schemas.JOB_PATCH_SCHEMA,
    }
    return success(data, self_url=str(request.url), meta=meta)


async def get_job(request: Request) -> Response:
    """Return the job; with ``wait_seconds``, once it is COMPLETED or ERROR or the wait ends."""
    job_id = path_id(request, "job_id")
    full = query.view(request) == "full"
    wait = query.wait_seconds(request)

    broker = broker_of(request)
    job = await broker.wait_for_job(job_id, wait) if wait else await broker.get_job(job_id)
    return _job_response(request, job, full=full)


def _parse_status(value: object) -> JobStatus | None:
    if value is None:
        return None
    status = JobStatus.parse(str(value))
    if status is None:
        known = ", ".join(s.value for s in JobStatus)
        raise InvalidInput(
            Problem("Invalid Status", f"status {value!r} is unknown; use one of {known}")
        )
    return status


async def patch_job(request: Request) -> Response:
    """Change status and/or results; the job comes back wrapped in the usual envelope."""
    job_id = path_id(request, "job_id")
    full = query.view(request) == "full"
    body = await required_json_object(request)
    check_body(body, schemas.JOB_PATCH)

    patch = JobPatch(
        status=_parse_status(body.get("status")),
        results=body.get("results"),
        read_only={name: body[name] for name in READ_ONLY_JOB_FIELDS if name in body},
        lease_token=body.get("lease"),
    )
    job = await broker_of(request).patch_job(job_id, patch)
    return _job_response(request, job, full=full)


async def delete_job(request: Request) -> Response:
    await broker_of(request).delete_job(path_id(request, "job_id"))
    return no_content()


async def heartbeat(request: Request) -> Response:
    """Extend the lease; 409 when it was lost or the job was cancelled."""
    job_id = path_id(request, "job_id")
    body = await required_json_object(request)
    check_body(body, schemas.HEARTBEAT_REQUEST)

    job = await broker_of(request).dispatch.heartbeat(
        job_id, body["lease"], body.get("lease_seconds")
    )
    return success(views.job_full(job, include_token=True), self_url=str(request.url))


async def fail(request: Request) -> Response:
    """Report that the worker failed the job, with an optional request to retry it."""
    job_id = path_id(request, "job_id")
    body = await required_json_object(request)
    check_body(body, schemas.FAILURE_REPORT)

    job = await broker_of(request).dispatch.fail(
        job_id, token=body.get("lease"), error=body["error"], retry=body.get("retry", False)
    )
    return success(views.job_full(job), self_url=str(request.url))


async def cancel(request: Request) -> Response:
    job = await broker_of(request).dispatch.cancel(path_id(request, "job_id"))
    status_code = 202 if job.status == JobStatus.WORKING else 200
    return success(views.job_full(job), self_url=str(request.url), status_code=status_code)
