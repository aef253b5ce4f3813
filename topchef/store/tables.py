"""The database schema, shared by SQLite and PostgreSQL.

The Alembic migrations in ``topchef/store/migrations`` build exactly this
schema; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

JOB_STATUSES = ("REGISTERED", "WORKING", "COMPLETED", "ERROR")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so values are normalized to UTC on the way in and
    marked as UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where a UTC timestamp is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


# SQLite needs the exact type "INTEGER PRIMARY KEY" for a rowid alias.
BigIntegerKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("job_registration_schema", sa.JSON(), nullable=False),
    sa.Column("job_result_schema", sa.JSON(), nullable=False),
    sa.Column("is_available", sa.Boolean(), nullable=False),
    sa.Column("timeout", sa.Integer(), nullable=False, comment="seconds"),
    sa.Column("last_checked_in", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("lease_seconds", sa.Integer(), nullable=False, server_default="60",
              comment="how long a claim holds a job without a heartbeat"),
    sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3",
              comment="claims a job gets before an expired lease or a failure is final"),
    sa.Column("retry_delay_seconds", sa.Float(), nullable=False, server_default="1",
              comment="backoff before the first retry; doubles with each attempt"),
    sa.Column("retry_delay_max_seconds", sa.Float(), nullable=False, server_default="300"),
    sa.Column("retention_seconds", sa.Integer(), nullable=True,
              comment="finished jobs older than this are purged; NULL keeps them"),
    sa.Column("timed_out_at", UTCDateTime(), nullable=True,
              comment="when the service was marked timed out; a check-in clears it, so "
              "service.timed_out is recorded once per timeout"),
    sa.Column("callback_url", sa.Text(), nullable=True,
              comment="receives a webhook POST when one of the service's jobs finishes"),
    sa.CheckConstraint("timeout > 0", name="timeout_positive"),
    sa.CheckConstraint("lease_seconds > 0", name="lease_seconds_positive"),
    sa.CheckConstraint("max_attempts > 0", name="max_attempts_positive"),
    sa.CheckConstraint(
        "retry_delay_seconds >= 0 AND retry_delay_max_seconds >= 0", name="retry_delay_not_negative"
    ),
    sa.CheckConstraint(
        "retention_seconds IS NULL OR retention_seconds > 0", name="retention_seconds_positive"
    ),
)

jobs = sa.Table(
    "jobs",
    metadata,
    # seq is the monotonic submission order. AUTOINCREMENT on SQLite keeps it
    # from reusing the number of a deleted newest job, so order never goes back.
    sa.Column("seq", BigIntegerKey, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Uuid(), nullable=False, unique=True),
    sa.Column(
        "service_id",
        sa.Uuid(),
        sa.ForeignKey("services.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("results", sa.JSON(), nullable=True),
    sa.Column("date_submitted", UTCDateTime(), nullable=False),
    sa.Column("date_started", UTCDateTime(), nullable=True),
    sa.Column("date_finished", UTCDateTime(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="0",
              comment="how many times the job was claimed"),
    sa.Column("worker", sa.Text(), nullable=True, comment="who holds or last held the job"),
    sa.Column("lease_token", sa.Text(), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    sa.Column("visible_at", UTCDateTime(), nullable=True,
              comment="a REGISTERED job waiting out a retry delay is not claimed before this"),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("error", sa.Text(), nullable=True, comment="why the job failed or was requeued"),
    sa.Column("idempotency_key", sa.Text(), nullable=True),
    sa.CheckConstraint(
        "status IN ('REGISTERED', 'WORKING', 'COMPLETED', 'ERROR')", name="status_known"
    ),
    # A lease exists exactly while the job is WORKING under a claim.
    sa.CheckConstraint(
        "lease_token IS NULL OR (status = 'WORKING' AND lease_expires_at IS NOT NULL)",
        name="lease_only_while_working",
    ),
    sqlite_autoincrement=True,
)

# The dispatch queue: only REGISTERED jobs are in this partial index, in the
# order they are handed out, so finding the next job reads one index entry.
sa.Index(
    "ix_jobs_queue",
    jobs.c.service_id,
    jobs.c.priority.desc(),
    jobs.c.seq,
    sqlite_where=jobs.c.status == sa.literal_column("'REGISTERED'"),
    postgresql_where=jobs.c.status == sa.literal_column("'REGISTERED'"),
)

# A service's jobs in submission order, for listings and counts.
sa.Index("ix_jobs_service_id_seq", jobs.c.service_id, jobs.c.seq)

# The oldest REGISTERED jobs first whatever their priority, for the claims that
# serve the queue in plain FIFO order so low priorities are not starved.
sa.Index(
    "ix_jobs_fifo_queue",
    jobs.c.service_id,
    jobs.c.seq,
    sqlite_where=jobs.c.status == sa.literal_column("'REGISTERED'"),
    postgresql_where=jobs.c.status == sa.literal_column("'REGISTERED'"),
)

# Leases to expire, found without reading the jobs that hold none.
sa.Index(
    "ix_jobs_lease_expires_at",
    jobs.c.lease_expires_at,
    sqlite_where=jobs.c.lease_token.is_not(None),
    postgresql_where=jobs.c.lease_token.is_not(None),
)

# Finished jobs by age, for the retention purge.
sa.Index(
    "ix_jobs_finished",
    jobs.c.service_id,
    jobs.c.date_finished,
    sqlite_where=jobs.c.date_finished.is_not(None),
    postgresql_where=jobs.c.date_finished.is_not(None),
)

# One job per Idempotency-Key and service: a repeated POST finds the first one.
sa.Index(
    "uq_jobs_idempotency_key",
    jobs.c.service_id,
    jobs.c.idempotency_key,
    unique=True,
    sqlite_where=jobs.c.idempotency_key.is_not(None),
    postgresql_where=jobs.c.idempotency_key.is_not(None),
)


EVENT_TYPE_MAX_CHARS = 32

# One row per change to a service or job, written in the transaction of the
# change, so every server process streams the same events under the same ids.
# No foreign keys: an event outlives the service or job it is about.
events = sa.Table(
    "events",
    metadata,
    # AUTOINCREMENT on SQLite: an id is never reused after a purge, so a
    # client's Last-Event-ID never points at a different event.
    sa.Column("seq", BigIntegerKey, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("type", sa.String(EVENT_TYPE_MAX_CHARS), nullable=False),
    sa.Column("service_id", sa.Uuid(), nullable=True),
    sa.Column("job_id", sa.Uuid(), nullable=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=True),
    sa.Column("worker", sa.Text(), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=True,
              comment="a few small fields; never parameters or results"),
    sqlite_autoincrement=True,
)

# Events by age, for the purge that keeps the resume window bounded.
sa.Index("ix_events_at", events.c.at)

# The webhook outbox: one row per delivery still owed, written in the
# transaction that finished the job, deleted once the receiver accepted it.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("seq", BigIntegerKey, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger(), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False, comment="the exact JSON body that is signed"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("claimed_until", UTCDateTime(), nullable=True,
              comment="a server process is delivering it until then; NULL when none is"),
    sa.Column("last_error", sa.Text(), nullable=True),
    sqlite_autoincrement=True,
)

# Deliveries that are due, oldest first.
sa.Index("ix_webhook_deliveries_next_attempt_at", webhook_deliveries.c.next_attempt_at)
