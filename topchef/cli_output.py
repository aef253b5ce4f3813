"""Output of the client commands of ``topchef``: services and jobs as tables or JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import click

from topchef.client import Job, Service, ServiceSummary

MAX_CELL_CHARS = 60
"""Longer table cells are cut, so that one long description does not wreck the table."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict | Sequence) and not isinstance(value, str):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        plain = {key: _plain(item) for key, item in items}
        return plain if isinstance(value, dict) else list(plain.values())
    if hasattr(value, "items"):  # a read-only mapping
        return {key: _plain(item) for key, item in value.items()}
    return value


def to_json(value: Any) -> str:
    """Render a service, a job or a list of them as the JSON the server's full view has."""
    return json.dumps(_plain(value), indent=2, ensure_ascii=False)


def echo_json(value: Any) -> None:
    click.echo(to_json(value))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = value.value if isinstance(value, Enum) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."


def echo_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows under headers in aligned columns."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)])
              for i, header in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(text.ljust(width) for text, width in zip(row, widths,
                                                                      strict=True)).rstrip())


JOB_COLUMNS = ("ID", "STATUS", "PRIORITY", "ATTEMPT", "SUBMITTED", "FINISHED", "SERVICE")


def job_row(job: Job) -> tuple[Any, ...]:
    return (job.id, job.status, job.priority, job.attempt, job.date_submitted,
            job.date_finished, job.service_id)


def echo_services(services: Sequence[ServiceSummary]) -> None:
    echo_table(("ID", "NAME", "DESCRIPTION"),
               [(service.id, service.name, service.description) for service in services])


def _compact(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False)


def echo_service(service: Service) -> None:
    """Print one service as field-value lines, its schemas as compact JSON."""
    counts = ", ".join(f"{status} {count}" for status, count in service.job_counts.items())
    fields = [
        ("id", service.id), ("name", service.name), ("description", service.description),
        ("available", service.is_service_available), ("timed out", service.has_timed_out),
        ("timeout", f"{service.timeout} s"), ("lease", f"{service.lease_seconds} s"),
        ("max attempts", service.max_attempts),
        ("retry delay", f"{service.retry_delay_seconds:g} s to "
                        f"{service.retry_delay_max_seconds:g} s"),
        ("retention", "keep" if service.retention_seconds is None
         else f"{service.retention_seconds} s"),
        ("created", service.date_created.isoformat()),
        ("last check-in", service.last_checked_in.isoformat()),
        ("jobs", counts),
        ("job_registration_schema", _compact(service.job_registration_schema)),
        ("job_result_schema", _compact(service.job_result_schema)),
    ]
    _echo_fields(fields)


def echo_job(job: Job) -> None:
    """Print one job as field-value lines, its parameters and results as compact JSON."""
    lease = None
    if job.lease is not None:
        lease = f"held by {job.lease.worker or 'an unnamed worker'} until " \
                f"{job.lease.expires_at.isoformat()}"
    fields = [
        ("id", job.id), ("service", job.service_id), ("status", job.status.value),
        ("priority", job.priority), ("attempt", job.attempt), ("worker", job.worker),
        ("lease", lease), ("submitted", job.date_submitted.isoformat()),
        ("started", job.date_started and job.date_started.isoformat()),
        ("finished", job.date_finished and job.date_finished.isoformat()),
        ("visible at", job.visible_at and job.visible_at.isoformat()),
        ("cancel requested", job.cancel_requested),
        ("error", job.error),
        ("parameters", _compact(job.parameters)),
        ("results", _compact(job.results)),
    ]
    _echo_fields(fields)


def _echo_fields(fields: Sequence[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        text = "-" if value is None else str(value)
        click.echo(f"{name.ljust(width)}  {text}")
