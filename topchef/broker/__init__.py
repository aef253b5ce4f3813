"""The domain: services, jobs, the status state machine and schema validation. No HTTP."""

from topchef.broker.broker import (
    Broker,
    JobPage,
    NewJob,
    NewService,
    ServiceChanges,
    ServiceSettings,
)
from topchef.broker.dispatch import ClaimRequest, Dispatcher, JobCancelled, LeaseLost
from topchef.broker.errors import (
    BrokerError,
    Conflict,
    InvalidInput,
    JobNotFound,
    NotFound,
    Problem,
    SchemaViolation,
    ServiceNotFound,
)
from topchef.broker.models import Job, JobStatus, Lease, Service
from topchef.broker.patching import JobPatch

__all__ = [
    "Broker",
    "BrokerError",
    "ClaimRequest",
    "Conflict",
    "Dispatcher",
    "InvalidInput",
    "Job",
    "JobCancelled",
    "JobNotFound",
    "JobPage",
    "JobPatch",
    "JobStatus",
    "Lease",
    "LeaseLost",
    "NewJob",
    "NewService",
    "NotFound",
    "Problem",
    "SchemaViolation",
    "Service",
    "ServiceChanges",
    "ServiceNotFound",
    "ServiceSettings",
]
