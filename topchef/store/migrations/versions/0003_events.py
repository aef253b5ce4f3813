"""Add the events table, the webhook outbox, and service timeouts and callbacks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from topchef.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigIntegerKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column(
            "timed_out_at", UTCDateTime(), nullable=True,
            comment="when the service was marked timed out; a check-in clears it, so "
            "service.timed_out is recorded once per timeout"))
        batch.add_column(sa.Column(
            "callback_url", sa.Text(), nullable=True,
            comment="receives a webhook POST when one of the service's jobs finishes"))

    op.create_table(
        "events",
        sa.Column("seq", BigIntegerKey, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True,
                  comment="a few small fields; never parameters or results"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_at", "events", ["at"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("seq", BigIntegerKey, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the exact JSON body that is signed"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True,
                  comment="a server process is delivering it until then; NULL when none is"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_webhook_deliveries")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_deliveries_next_attempt_at", "webhook_deliveries",
                    ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_table("events")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("callback_url")
        batch.drop_column("timed_out_at")
