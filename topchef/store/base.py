"""The store interface that the broker depends on.

A store hands out sessions: ``read()`` for a consistent snapshot and
``write()`` for one transaction that commits durably when the block exits
without an error and rolls back otherwise. Rows leave the store as the
broker's frozen models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from topchef.broker.models import Job, JobStatus, Service


class StoreSession(Protocol):
    async def insert_service(self, service: Service) -> None: ...

    async def get_service(self, service_id: UUID) -> Service | None: ...

    async def list_services(self) -> Sequence[Service]: ...

    async def update_service(self, service_id: UUID, changes: Mapping[str, Any]) -> None: ...

    async def insert_job(self, job: Job) -> Job:
        """Insert ``job`` and return it with the ``seq`` the store assigned."""
        ...

    async def get_job(self, job_id: UUID, *, for_update: bool = False) -> Job | None:
        """Return the job; with ``for_update`` it stays locked until the write ends."""
        ...

    async def list_jobs(self, service_id: UUID | None = None) -> Sequence[Job]:
        """Return jobs in submission order, of one service or of all."""
        ...

    async def next_jobs(self, service_id: UUID, limit: int) -> Sequence[Job]:
        """Return up to ``limit`` REGISTERED jobs in dispatch order without claiming them."""
        ...

    async def update_job(self, job_id: UUID, changes: Mapping[str, Any]) -> None: ...

    async def count_jobs(self, service_id: UUID) -> Mapping[JobStatus, int]: ...


class Store(Protocol):
    description: str
    """What the store is, for logs: its kind and where it keeps data, without secrets."""

    def read(self) -> AbstractAsyncContextManager[StoreSession]: ...

    def write(self) -> AbstractAsyncContextManager[StoreSession]: ...

    async def close(self) -> None: ...
