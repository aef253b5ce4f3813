"""The domain: services, jobs, the status state machine and schema validation. No HTTP."""

from topchef.broker.broker import Broker, JobPatch, NewService, ServiceChanges
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
from topchef.broker.models import Job, JobStatus, Service

__all__ = [
    "Broker",
    "BrokerError",
    "Conflict",
    "InvalidInput",
    "Job",
    "JobNotFound",
    "JobPatch",
    "JobStatus",
    "NewService",
    "NotFound",
    "Problem",
    "SchemaViolation",
    "Service",
    "ServiceChanges",
    "ServiceNotFound",
]
