"""The rules for a PATCH of a job: which changes it may make and the values it writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from topchef.broker.errors import InvalidInput, Problem
from topchef.broker.lifecycle import FINISHED, check_transition
from topchef.broker.models import JSON, Job, JobStatus

TIMESTAMP_TOLERANCE_SECONDS = 0.001
"""Clients such as the Java one keep milliseconds, so a date_submitted sent back
may lose the microseconds; a difference below this is not a change."""


@dataclass(frozen=True, slots=True)
class JobPatch:
    """A requested change to a job; None means "leave as is" for status and results.

    ``read_only`` contains the fields a client echoed back (id, date_submitted,
    parameters); they must match the stored job. ``lease_token`` fences the
    change: it applies only while the job is held under that lease.
    """

    status: JobStatus | None = None
    results: JSON = None
    read_only: Mapping[str, Any] = field(default_factory=dict)
    lease_token: str | None = None


def patch_values(job: Job, patch: JobPatch, now: datetime) -> dict[str, Any]:
    """Return the column changes ``patch`` makes to ``job``, or raise why it may not."""
    check_read_only_fields(job, patch.read_only)

    target = patch.status or job.status
    changes_results = patch.results is not None and patch.results != job.results
    check_transition(job.status, target, changes_results=changes_results)
    if target == JobStatus.COMPLETED and patch.results is None and job.results is None:
        raise InvalidInput(
            Problem(
                "Results Required",
                f"job {job.id} cannot be COMPLETED without results; "
                "send results that match the service's job_result_schema",
            )
        )

    values: dict[str, Any] = {}
    if changes_results:
        values["results"] = patch.results
    if target != job.status:
        values.update(_status_values(job, target, now))
    return values


def _status_values(job: Job, target: JobStatus, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": target}
    if job.status == JobStatus.WORKING:
        values.update(lease_token=None, lease_expires_at=None)

    if target == JobStatus.WORKING:
        # A classic worker takes a job by PATCHing it to WORKING: that is a claim without a lease.
        values["attempt"] = job.attempt + 1
        values["date_started"] = job.date_started or now
        values["worker"] = None
        values["visible_at"] = None
    elif target in FINISHED:
        values["date_finished"] = now
    elif target == JobStatus.REGISTERED:
        # Back in the queue, the job runs afresh: results of an earlier run must not count.
        values.update(date_finished=None, visible_at=None, results=None, cancel_requested=False)
        if job.status == JobStatus.ERROR:
            values["attempt"] = 0  # a manual retry gets the service's full max_attempts again
    return values


def check_read_only_fields(job: Job, echoed: Mapping[str, Any]) -> None:
    problems = [
        Problem("Read-Only Field Changed", f"{name} cannot be changed: {reason}")
        for name, value in echoed.items()
        if (reason := _read_only_mismatch(job, name, value)) is not None
    ]
    if problems:
        raise InvalidInput(*problems)


def _read_only_mismatch(job: Job, name: str, value: Any) -> str | None:
    if name == "id":
        if str(value).lower() != str(job.id):
            return f"the job's id is {job.id}, the request sent {value!r}"
        return None

    if name == "parameters":
        if value != job.parameters:
            return "the request sent parameters different from the stored ones"
        return None

    if name == "date_submitted":
        sent = _parse_timestamp(value)
        if sent is None:
            return f"{value!r} is not an ISO 8601 timestamp"
        if abs((sent - job.date_submitted).total_seconds()) >= TIMESTAMP_TOLERANCE_SECONDS:
            return f"the job was submitted at {job.date_submitted.isoformat()}, not {value}"
        return None

    raise ValueError(f"{name!r} is not a read-only job field")


def _parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
