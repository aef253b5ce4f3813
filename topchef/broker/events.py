"""Job events that wake long polls, in this process and in the other server processes.

Inside the transaction that causes an event, the broker hands it to the store
(``announce``), which on PostgreSQL sends a NOTIFY that is delivered only if
the transaction commits. After the commit it wakes local waiters directly.
Other processes receive the NOTIFY through their listener and wake theirs;
a process ignores its own notifications, which it has already delivered.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from topchef.broker.models import JobStatus
from topchef.broker.notify import Notifier

if TYPE_CHECKING:
    from topchef.store.base import StoreSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobsAvailable:
    """``count`` jobs of a service became claimable, now or at ``at`` (after a retry delay)."""

    service_id: UUID
    count: int = 1
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job reached COMPLETED or ERROR, or was deleted."""

    job_id: UUID


@dataclass(frozen=True, slots=True)
class EventsRecorded:
    """New rows are in the event journal; sent by changes that wake no other waiter."""


Event = JobsAvailable | JobFinished | EventsRecorded

RECORDED = EventsRecorded()
STREAMS_KEY = ("events", "recorded")
"""The notifier key the event stream waits on.

Every delivered event wakes it, because every change that announces an event
also records one in the journal."""

NOW = "now"
"""Stands for "no retry delay" in a payload."""


def status_events(
    job_id: UUID, service_id: UUID, status: JobStatus, *, at: datetime | None = None
) -> list[Event]:
    """Return what waiters must hear after a job moved to ``status``.

    ``at`` is the end of a retry delay, for a job put back in the queue.
    """
    if status in (JobStatus.COMPLETED, JobStatus.ERROR):
        return [JobFinished(job_id)]
    if status == JobStatus.REGISTERED:
        return [JobsAvailable(service_id, at=at)]
    return []


def job_key(job_id: UUID) -> tuple[str, UUID]:
    """Return the notifier key that waiters for one job's result register on."""
    return ("job", job_id)


def deliver(notifier: Notifier, event: Event) -> None:
    notifier.notify_all(STREAMS_KEY)
    if isinstance(event, EventsRecorded):
        return
    if isinstance(event, JobFinished):
        notifier.notify_all(job_key(event.job_id))
        return

    delay = (event.at - datetime.now(UTC)).total_seconds() if event.at else 0.0
    if delay > 0:
        asyncio.get_running_loop().call_later(
            delay, notifier.notify, event.service_id, event.count
        )
    else:
        notifier.notify(event.service_id, count=event.count)


def encode(event: Event, origin: str) -> str:
    """Return the NOTIFY payload for ``event`` sent by the process named ``origin``."""
    if isinstance(event, JobsAvailable):
        at = event.at.isoformat() if event.at else NOW
        return f"{origin} available {event.service_id} {event.count} {at}"
    if isinstance(event, EventsRecorded):
        return f"{origin} recorded"
    return f"{origin} finished {event.job_id}"


def decode(payload: str) -> tuple[str, Event] | None:
    """Return the origin and event of a payload, or None (logged) if it is malformed."""
    parts = payload.split()
    try:
        if len(parts) == 5 and parts[1] == "available":
            at = None if parts[4] == NOW else datetime.fromisoformat(parts[4])
            return parts[0], JobsAvailable(UUID(parts[2]), int(parts[3]), at)
        if len(parts) == 3 and parts[1] == "finished":
            return parts[0], JobFinished(UUID(parts[2]))
        if len(parts) == 2 and parts[1] == "recorded":
            return parts[0], RECORDED
    except ValueError:
        pass
    log.warning("ignored a malformed job notification %r", payload[:200])
    return None


class Announcer:
    """Sends events to other processes through the store and delivers them locally."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.origin = secrets.token_hex(6)

    async def announce(self, session: StoreSession, *events: Event) -> None:
        """Queue ``events`` for other processes; sent only if ``session`` commits."""
        for event in events:
            await session.announce(encode(event, self.origin))

    def deliver(self, *events: Event) -> None:
        """Wake this process's waiters for ``events``; call after the commit."""
        for event in events:
            deliver(self.notifier, event)

    def receive(self, payload: str) -> None:
        """Deliver an event another process announced."""
        decoded = decode(payload)
        if decoded is not None and decoded[0] != self.origin:
            deliver(self.notifier, decoded[1])
