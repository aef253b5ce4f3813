"""The classic representations of services and jobs, field for field.

Strict clients (the TopChef Java client and the MATLAB bindings on it) fail on
any field they do not know, so these functions emit exactly the classic fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from topchef.broker.models import Job, Service


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
