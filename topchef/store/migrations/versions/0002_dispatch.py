"""Add leases, attempts, retries, cancellation, idempotency keys and retention.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from topchef.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REGISTERED = sa.text("status = 'REGISTERED'")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column(
            "lease_seconds", sa.Integer(), nullable=False, server_default="60",
            comment="how long a claim holds a job without a heartbeat"))
        batch.add_column(sa.Column(
            "max_attempts", sa.Integer(), nullable=False, server_default="3",
            comment="claims a job gets before an expired lease or a failure is final"))
        batch.add_column(sa.Column(
            "retry_delay_seconds", sa.Float(), nullable=False, server_default="1",
            comment="backoff before the first retry; doubles with each attempt"))
        batch.add_column(sa.Column(
            "retry_delay_max_seconds", sa.Float(), nullable=False, server_default="300"))
        batch.add_column(sa.Column(
            "retention_seconds", sa.Integer(), nullable=True,
            comment="finished jobs older than this are purged; NULL keeps them"))
        batch.create_check_constraint("lease_seconds_positive", "lease_seconds > 0")
        batch.create_check_constraint("max_attempts_positive", "max_attempts > 0")
        batch.create_check_constraint(
            "retry_delay_not_negative",
            "retry_delay_seconds >= 0 AND retry_delay_max_seconds >= 0")
        batch.create_check_constraint(
            "retention_seconds_positive", "retention_seconds IS NULL OR retention_seconds > 0")

    # SQLite's batch mode rebuilds the table: it would recreate this index
    # without its DESC column, so it is dropped first and rebuilt after, and
    # it must be told to keep AUTOINCREMENT so seq is never reused.
    op.drop_index("ix_jobs_queue", table_name="jobs")
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column(
            "attempt", sa.Integer(), nullable=False, server_default="0",
            comment="how many times the job was claimed"))
        batch.add_column(sa.Column(
            "worker", sa.Text(), nullable=True, comment="who holds or last held the job"))
        batch.add_column(sa.Column("lease_token", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column(
            "visible_at", UTCDateTime(), nullable=True,
            comment="a REGISTERED job waiting out a retry delay is not claimed before this"))
        batch.add_column(sa.Column(
            "cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column(
            "error", sa.Text(), nullable=True, comment="why the job failed or was requeued"))
        batch.add_column(sa.Column("idempotency_key", sa.Text(), nullable=True))
        batch.create_check_constraint(
            "lease_only_while_working",
            "lease_token IS NULL OR (status = 'WORKING' AND lease_expires_at IS NOT NULL)")

    op.create_index("ix_jobs_queue", "jobs",
                    ["service_id", sa.literal_column("priority DESC"), "seq"],
                    sqlite_where=REGISTERED, postgresql_where=REGISTERED)
    op.create_index("ix_jobs_fifo_queue", "jobs", ["service_id", "seq"],
                    sqlite_where=REGISTERED, postgresql_where=REGISTERED)
    has_lease = sa.text("lease_token IS NOT NULL")
    op.create_index("ix_jobs_lease_expires_at", "jobs", ["lease_expires_at"],
                    sqlite_where=has_lease, postgresql_where=has_lease)
    finished = sa.text("date_finished IS NOT NULL")
    op.create_index("ix_jobs_finished", "jobs", ["service_id", "date_finished"],
                    sqlite_where=finished, postgresql_where=finished)
    keyed = sa.text("idempotency_key IS NOT NULL")
    op.create_index("uq_jobs_idempotency_key", "jobs", ["service_id", "idempotency_key"],
                    unique=True, sqlite_where=keyed, postgresql_where=keyed)


def downgrade() -> None:
    for index in ("uq_jobs_idempotency_key", "ix_jobs_finished", "ix_jobs_lease_expires_at",
                  "ix_jobs_fifo_queue"):
        op.drop_index(index, table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("ck_jobs_lease_only_while_working", type_="check")
        for column in ("idempotency_key", "error", "cancel_requested", "visible_at",
                       "lease_expires_at", "lease_token", "worker", "attempt"):
            batch.drop_column(column)
    op.create_index("ix_jobs_queue", "jobs",
                    ["service_id", sa.literal_column("priority DESC"), "seq"],
                    sqlite_where=REGISTERED, postgresql_where=REGISTERED)
    with op.batch_alter_table("services") as batch:
        for constraint in ("retention_seconds_positive", "retry_delay_not_negative",
                           "max_attempts_positive", "lease_seconds_positive"):
            batch.drop_constraint(f"ck_services_{constraint}", type_="check")
        for column in ("retention_seconds", "retry_delay_max_seconds", "retry_delay_seconds",
                       "max_attempts", "lease_seconds"):
            batch.drop_column(column)
