"""The store interface that the broker depends on.

A store hands out sessions: ``read()`` for a consistent snapshot and
``write()`` for one transaction that commits durably when the block exits
without an error and rolls back otherwise. Rows leave the store as the
broker's frozen models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from topchef.broker.models import ClaimValues, Job, JobStatus, Service
from topchef.store.journal import JournalSession


class StoreSession(JournalSession, Protocol):
    async def insert_service(self, service: Service) -> None: ...

    async def get_service(self, service_id: UUID) -> Service | None: ...

    async def list_services(self) -> Sequence[Service]: ...

    async def update_service(self, service_id: UUID, changes: Mapping[str, Any]) -> None: ...

    async def delete_service(self, service_id: UUID) -> None:
        """Delete the service and all its jobs."""
        ...

    async def insert_jobs(self, new_jobs: Sequence[Job]) -> list[Job]:
        """Insert jobs in order and return them with the ``seq`` the store assigned."""
        ...

    async def get_job(self, job_id: UUID, *, for_update: bool = False) -> Job | None:
        """Return the job; with ``for_update`` it stays locked until the write ends."""
        ...

    async def find_job_by_key(self, service_id: UUID, idempotency_key: str) -> Job | None: ...

    async def list_jobs(
        self,
        service_id: UUID | None = None,
        *,
        statuses: Sequence[JobStatus] = (),
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Sequence[Job]:
        """Return jobs listed after ``after_seq`` in submission order, optionally filtered.

        Oldest first, that is ``seq`` above ``after_seq``. With ``newest_first``
        the order is reversed, so the jobs are those with ``seq`` below
        ``after_seq``, or every job when ``after_seq`` is 0.
        """
        ...

    async def recent_jobs(self, service_id: UUID, limit: int) -> Sequence[Job]:
        """Return the service's newest ``limit`` jobs, oldest of them first."""
        ...

    async def next_jobs(self, service_id: UUID, limit: int, now: datetime) -> Sequence[Job]:
        """Return up to ``limit`` claimable jobs in priority order without claiming them.

        Jobs still waiting out a retry delay at ``now`` are left out.
        """
        ...

    async def claim_jobs(self, service_id: UUID, claim: ClaimValues) -> Sequence[Job]:
        """Move up to ``claim.limit`` visible REGISTERED jobs to WORKING under one lease.

        One statement: concurrent claims never take the same job and, on
        PostgreSQL, skip rows another claim has locked instead of waiting.
        """
        ...

    async def expired_leases(self, now: datetime, limit: int) -> Sequence[Job]:
        """Return up to ``limit`` jobs whose lease expired at or before ``now``, locked."""
        ...

    async def update_job(
        self, job_id: UUID, changes: Mapping[str, Any], *, lease_token: str | None = None
    ) -> bool:
        """Apply ``changes``; with ``lease_token``, only while the job still holds that lease.

        Return whether a job was changed.
        """
        ...

    async def delete_job(self, job_id: UUID) -> None: ...

    async def count_jobs(self, service_id: UUID) -> Mapping[JobStatus, int]: ...

    async def count_jobs_by_service(self) -> Mapping[tuple[UUID, JobStatus], int]:
        """Count every service's jobs by status in one query; pairs with no jobs are absent."""
        ...

    async def announce(self, payload: str) -> None:
        """Send ``payload`` to the other server processes when this transaction commits.

        A store served by one process (SQLite) has no other process and does nothing.
        """
        ...

    async def purge_finished(self, service_id: UUID, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` jobs that finished before ``before``; return how many."""
        ...


class Store(Protocol):
    description: str
    """A description of the store for logs: its kind and location, without secrets."""

    def read(self) -> AbstractAsyncContextManager[StoreSession]: ...

    def write(self) -> AbstractAsyncContextManager[StoreSession]: ...

    def listen(self, receive: Callable[[str], None]) -> AbstractAsyncContextManager[None]:
        """Call ``receive`` with every payload other processes announce, while inside."""
        ...

    async def close(self) -> None: ...

    async def check_ready(self) -> str | None:
        """Return why the store cannot serve requests now, or None when it can.

        Ready means the database responds and its schema is at the revision
        this TopChef needs.
        """
        ...
