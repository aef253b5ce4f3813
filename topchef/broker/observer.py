"""Monitoring hooks of the broker: one call per job event, and job counts on demand.

The broker and the dispatcher call a ``BrokerObserver`` after each change has
committed. The default observer does nothing; ``topchef.api.metrics`` counts
the calls with prometheus-client. An observer must be quick and must not
raise, because it runs inside the request that made the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from topchef.broker.lifecycle import FINISHED
from topchef.broker.models import Job, JobStatus

if TYPE_CHECKING:
    from topchef.store.base import Store


class BrokerObserver:
    """Hooks for job events; this base class ignores them all."""

    def jobs_submitted(self, service_id: UUID, count: int) -> None:
        """Record ``count`` new jobs queued for the service."""

    def jobs_claimed(self, jobs: Sequence[Job], *, at: datetime) -> None:
        """Record jobs moved to WORKING at ``at``, as the claim left them (attempt counted)."""

    def job_finished(self, job: Job, status: JobStatus, *, at: datetime) -> None:
        """Record a job that ended in ``status`` (COMPLETED or ERROR) at ``at``."""

    def job_requeued(self, job: Job) -> None:
        """Record a job sent back to REGISTERED: a retry, an expired lease or a PATCH."""

    def lease_expired(self, job: Job) -> None:
        """Record a lease that ran out; the job is requeued or fails as well."""


NO_OBSERVER = BrokerObserver()


def observe_status_change(
    observer: BrokerObserver, job: Job, previous: JobStatus, *, at: datetime
) -> None:
    """Report a status change a PATCH made, so classic workers show up in the counts too.

    A classic worker claims a job by PATCHing it to WORKING, so that counts as a claim.
    """
    if job.status == previous:
        return
    if job.status == JobStatus.WORKING:
        observer.jobs_claimed([job], at=at)
    elif job.status in FINISHED:
        observer.job_finished(job, job.status, at=at)
    else:
        observer.job_requeued(job)


async def count_jobs_by_service(store: Store) -> Mapping[tuple[UUID, JobStatus], int]:
    """Count every service's jobs by status, in one query; absent pairs have no jobs."""
    async with store.read() as session:
        return await session.count_jobs_by_service()
