"""The classic representations of services and jobs, field for field.

Strict clients (the TopChef Java client and the MATLAB bindings on it) fail on
any field they do not know, so these functions emit exactly the classic fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from topchef.broker.models import Job, JobStatus, Service


def timestamp(moment: datetime) -> str:
    return moment.isoformat()


def job_detail(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status.value,
        "parameters": job.parameters,
        "results": job.results,
        "date_submitted": timestamp(job.date_submitted),
    }


def job_overview(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status.value,
        "date_submitted": timestamp(job.date_submitted),
    }


def service_overview(service: Service) -> dict[str, Any]:
    return {"id": str(service.id), "name": service.name, "description": service.description}


def service_detail(service: Service, jobs: Sequence[Job], *, now: datetime) -> dict[str, Any]:
    return {
        "id": str(service.id),
        "name": service.name,
        "description": service.description,
        "job_registration_schema": service.job_registration_schema,
        "job_result_schema": service.job_result_schema,
        "is_service_available": service.is_available,
        "has_timed_out": service.has_timed_out(now),
        "timeout": service.timeout,
        "jobs": [job_overview(job) for job in jobs],
    }


def _optional_timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def lease_view(job: Job, *, include_token: bool) -> dict[str, Any] | None:
    """Return the job's lease; only the worker that holds it gets the token."""
    lease = job.lease
    if lease is None:
        return None
    view: dict[str, Any] = {
        "expires_at": timestamp(lease.expires_at),
        "worker": lease.worker,
        "attempt": lease.attempt,
    }
    if include_token:
        view = {"token": lease.token, **view}
    return view


def job_full(job: Job, *, include_token: bool = False) -> dict[str, Any]:
    """Return the classic job fields plus every field the broker stores for the job."""
    return {
        **job_detail(job),
        "service_id": str(job.service_id),
        "priority": job.priority,
        "attempt": job.attempt,
        "worker": job.worker,
        "lease": lease_view(job, include_token=include_token),
        "date_started": _optional_timestamp(job.date_started),
        "date_finished": _optional_timestamp(job.date_finished),
        "visible_at": _optional_timestamp(job.visible_at),
        "cancel_requested": job.cancel_requested,
        "error": job.error,
    }


def service_settings(service: Service) -> dict[str, Any]:
    return {
        "lease_seconds": service.lease_seconds,
        "max_attempts": service.max_attempts,
        "retry_delay_seconds": service.retry_delay_seconds,
        "retry_delay_max_seconds": service.retry_delay_max_seconds,
        "retention_seconds": service.retention_seconds,
        "callback_url": service.callback_url,
    }


def service_full(
    service: Service, jobs: Sequence[Job], counts: Mapping[JobStatus, int], *, now: datetime
) -> dict[str, Any]:
    """Return the classic service fields plus its settings, check-in time and job counts."""
    return {
        **service_detail(service, jobs, now=now),
        **service_settings(service),
        "last_checked_in": timestamp(service.last_checked_in),
        "timed_out_at": _optional_timestamp(service.timed_out_at),
        "date_created": timestamp(service.created_at),
        "job_counts": {status.value: count for status, count in counts.items()},
    }
