"""The event journal: one durable row per change to a service or job.

The broker records events inside the transaction of the change, so an event
exists exactly when its change committed, and its id (the row's ``seq``) is the
same in every server process. ``GET /events`` streams these rows, and a job
that finishes also leaves a webhook delivery in the outbox when its service
has a ``callback_url``. Events never carry parameters or results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from topchef.broker.models import Job, JobStatus

if TYPE_CHECKING:
    from topchef.store.base import StoreSession


class EventType(StrEnum):
    JOB_CREATED = "job.created"
    JOB_CLAIMED = "job.claimed"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    """The job ended in ERROR (a final failure, or a cancelled job whose worker stopped)."""
    JOB_REQUEUED = "job.requeued"
    """The job went back to REGISTERED: its lease expired, its worker asked for a retry,
    or a PATCH set the status."""
    JOB_CANCELLED = "job.cancelled"
    """A cancellation was recorded: status ERROR if the job ended at once, WORKING if
    its worker still has to stop."""
    JOB_DELETED = "job.deleted"
    SERVICE_CREATED = "service.created"
    SERVICE_CHECKED_IN = "service.checked_in"
    SERVICE_TIMED_OUT = "service.timed_out"
    SERVICE_DELETED = "service.deleted"


FINISHING_TYPES = frozenset({EventType.JOB_COMPLETED, EventType.JOB_FAILED,
                             EventType.JOB_CANCELLED})
"""Event types that can end a job; one with status COMPLETED or ERROR triggers a webhook."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One change, as stored in the events table and sent on the stream."""

    type: EventType
    at: datetime
    service_id: UUID | None
    job_id: UUID | None = None
    status: str | None = None
    attempt: int | None = None
    worker: str | None = None
    detail: dict[str, Any] | None = None
    """A few small fields, such as the reason a job failed; never parameters or results."""
    seq: int = 0
    """The event id the store assigned; 0 before it is stored."""

    def to_json(self) -> dict[str, Any]:
        """Return the ``data`` object of the stream: every field, null where it does not apply."""
        return {
            "id": self.seq,
            "type": self.type.value,
            "at": self.at.isoformat(),
            "service_id": None if self.service_id is None else str(self.service_id),
            "job_id": None if self.job_id is None else str(self.job_id),
            "status": self.status,
            "attempt": self.attempt,
            "worker": self.worker,
            "detail": self.detail,
        }

    @property
    def finishes_job(self) -> bool:
        return self.type in FINISHING_TYPES and self.status in (
            JobStatus.COMPLETED.value, JobStatus.ERROR.value)


ERROR_DETAIL_MAX_CHARS = 200
"""An error message is cut to this length in an event; the job keeps it whole."""


def job_event(event_type: EventType, job: Job, at: datetime) -> EventRecord:
    """Describe ``job`` as it is after the change; a failure reason goes into ``detail``."""
    detail = None
    if job.error is not None and event_type in (EventType.JOB_FAILED, EventType.JOB_REQUEUED):
        detail = {"error": job.error[:ERROR_DETAIL_MAX_CHARS]}
    return EventRecord(
        type=event_type,
        at=at,
        service_id=job.service_id,
        job_id=job.id,
        status=job.status.value,
        attempt=job.attempt,
        worker=job.worker,
        detail=detail,
    )


def service_event(event_type: EventType, service_id: UUID, at: datetime,
                  detail: dict[str, Any] | None = None) -> EventRecord:
    return EventRecord(type=event_type, at=at, service_id=service_id, detail=detail)


def status_change_type(status: JobStatus) -> EventType:
    """Return the event type of a move to ``status`` that is not a claim or a cancellation."""
    return {
        JobStatus.REGISTERED: EventType.JOB_REQUEUED,
        JobStatus.WORKING: EventType.JOB_CLAIMED,
        JobStatus.COMPLETED: EventType.JOB_COMPLETED,
        JobStatus.ERROR: EventType.JOB_FAILED,
    }[status]


def webhook_body(record: EventRecord) -> bytes:
    """Return the JSON body a webhook receiver gets for a finished job."""
    return orjson.dumps({
        "job_id": str(record.job_id),
        "service_id": str(record.service_id),
        "status": record.status,
        "event_id": record.seq,
    })


async def record_events(session: StoreSession, *records: EventRecord) -> None:
    """Store ``records`` in the session's transaction.

    A record that finishes a job of a service with a ``callback_url`` also
    queues a webhook delivery in the same transaction.
    """
    if not any(record.finishes_job for record in records):
        if records:
            await session.insert_events(records, return_ids=False)
        return

    seqs = await session.insert_events(records)
    stored = [replace(record, seq=seq) for record, seq in zip(records, seqs, strict=True)]

    callback_urls: dict[UUID, str | None] = {}
    for record in stored:
        if not record.finishes_job or record.service_id is None:
            continue
        if record.service_id not in callback_urls:
            callback_urls[record.service_id] = await session.service_callback_url(
                record.service_id)
        url = callback_urls[record.service_id]
        if url is not None:
            await session.insert_webhook_delivery(
                event_id=record.seq, url=url, body=webhook_body(record).decode(), due=record.at)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook POST still owed to a receiver, from the outbox."""

    seq: int
    event_id: int
    url: str
    body: str
    attempts: int
    """Attempts made before this one."""
