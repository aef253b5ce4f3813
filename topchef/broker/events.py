"""Job events that wake long polls, in this process and in the other server processes.

Inside the transaction that causes an event, the broker hands it to the store
(``announce``), which on PostgreSQL sends a NOTIFY that is delivered only if
the transaction commits. After the commit it wakes local waiters directly.
Other processes receive the NOTIFY through their listener and wake theirs;
a process ignores its own notifications, which it has already delivered.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from topchef.broker.notify import Notifier

if TYPE_CHECKING:
    from topchef.store.base import StoreSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobsAvailable:
    """``count`` jobs of a service became claimable."""

    service_id: UUID
    count: int = 1


@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job reached COMPLETED or ERROR, or was deleted."""

    job_id: UUID


Event = JobsAvailable | JobFinished


def job_key(job_id: UUID) -> tuple[str, UUID]:
    """Return the notifier key that waiters for one job's result register on."""
    return ("job", job_id)


def deliver(notifier: Notifier, event: Event) -> None:
    if isinstance(event, JobsAvailable):
        notifier.notify(event.service_id, count=event.count)
    else:
        notifier.notify_all(job_key(event.job_id))


def encode(event: Event, origin: str) -> str:
    """Return the NOTIFY payload for ``event`` sent by the process named ``origin``."""
    if isinstance(event, JobsAvailable):
        return f"{origin} available {event.service_id} {event.count}"
    return f"{origin} finished {event.job_id}"


def decode(payload: str) -> tuple[str, Event] | None:
    """Return the origin and event of a payload, or None (logged) if it is malformed."""
    parts = payload.split()
    try:
        if len(parts) == 4 and parts[1] == "available":
            return parts[0], JobsAvailable(UUID(parts[2]), int(parts[3]))
        if len(parts) == 3 and parts[1] == "finished":
            return parts[0], JobFinished(UUID(parts[2]))
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
