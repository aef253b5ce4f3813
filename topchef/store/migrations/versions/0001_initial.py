"""Create the services and jobs tables with the dispatch queue index.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from topchef.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigIntegerKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("job_registration_schema", sa.JSON(), nullable=False),
        sa.Column("job_result_schema", sa.JSON(), nullable=False),
        sa.Column("is_available", sa.Boolean(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False, comment="seconds"),
        sa.Column("last_checked_in", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("timeout > 0", name=op.f("ck_services_timeout_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_table(
        "jobs",
        sa.Column("seq", BigIntegerKey, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("date_submitted", UTCDateTime(), nullable=False),
        sa.Column("date_started", UTCDateTime(), nullable=True),
        sa.Column("date_finished", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('REGISTERED', 'WORKING', 'COMPLETED', 'ERROR')",
            name=op.f("ck_jobs_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_jobs_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_jobs")),
        sa.UniqueConstraint("id", name=op.f("uq_jobs_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_jobs_queue",
        "jobs",
        ["service_id", sa.literal_column("priority DESC"), "seq"],
        sqlite_where=sa.text("status = 'REGISTERED'"),
        postgresql_where=sa.text("status = 'REGISTERED'"),
    )
    op.create_index("ix_jobs_service_id_seq", "jobs", ["service_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_jobs_service_id_seq", table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("services")
