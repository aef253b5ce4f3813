"""Routes under ``/jobs``: read jobs and change their status or results."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from topchef.api import schemas, views
from topchef.api.envelope import success
from topchef.api.requests import check_body, path_id, read_json_object
from topchef.api.state import broker_of
from topchef.broker import InvalidInput, JobPatch, JobStatus, Problem

READ_ONLY_JOB_FIELDS = ("id", "date_submitted", "parameters")


async def list_jobs(request: Request) -> Response:
    jobs = await broker_of(request).list_jobs()
    meta = {"data_schema": {"type": "array", "items": schemas.JOB_OVERVIEW_SCHEMA}}
    return success([views.job_overview(job) for job in jobs], self_url=str(request.url), meta=meta)


def _job_meta() -> dict[str, object]:
    return {
        "job_info_schema": schemas.JOB_SCHEMA,
        "patch_request_schema": schemas.JOB_PATCH_SCHEMA,
    }


async def get_job(request: Request) -> Response:
    job = await broker_of(request).get_job(path_id(request, "job_id"))
    return success(views.job_detail(job), self_url=str(request.url), meta=_job_meta())


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
    """Change status and/or results; the body is returned wrapped in the usual envelope."""
    job_id = path_id(request, "job_id")
    body = await read_json_object(request)
    assert body is not None  # read_json_object returns None only when optional
    check_body(body, schemas.JOB_PATCH)

    patch = JobPatch(
        status=_parse_status(body.get("status")),
        results=body.get("results"),
        read_only={name: body[name] for name in READ_ONLY_JOB_FIELDS if name in body},
    )
    job = await broker_of(request).patch_job(job_id, patch)
    return success(views.job_detail(job), self_url=str(request.url), meta=_job_meta())
