"""Store queries for the event journal, the webhook outbox and service timeouts.

``JournalSession`` is the part of the store interface these features use;
``SQLJournalQueries`` implements it for both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from topchef.broker.journal import EventRecord, EventType, WebhookDelivery
from topchef.store.tables import events, services, webhook_deliveries


class JournalSession(Protocol):
    async def insert_events(self, records: Sequence[EventRecord]) -> list[int]:
        """Insert events in order; return the ids the store assigned."""
        ...

    async def read_events(
        self,
        after: int,
        *,
        upto: int,
        service_ids: Collection[UUID] = (),
        job_ids: Collection[UUID] = (),
        limit: int,
    ) -> Sequence[EventRecord]:
        """Return events with ``after < seq <= upto`` in id order, optionally filtered."""
        ...

    async def event_ids_after(self, after: int, limit: int) -> Sequence[int]:
        """Return the ids above ``after`` in order, whatever the filters."""
        ...

    async def event_id_range(self) -> tuple[int, int] | None:
        """Return the oldest and newest stored event ids, or None if there is none."""
        ...

    async def purge_events(self, *, before: datetime, keep: int) -> int:
        """Delete events older than ``before`` or beyond the newest ``keep``; return how many."""
        ...

    async def service_callback_url(self, service_id: UUID) -> str | None: ...

    async def check_in_times(self) -> Sequence[tuple[UUID, datetime, int]]:
        """Return each service not yet marked timed out: its id, last check-in and timeout."""
        ...

    async def mark_service_timed_out(
        self, service_id: UUID, now: datetime, *, checked_in_at: datetime | None
    ) -> bool:
        """Set ``timed_out_at`` unless it is set; return whether this call set it.

        With ``checked_in_at``, only while the last check-in is still that one,
        so a check-in that arrived meanwhile wins. Without it the service is also
        made unavailable (the administrator's action).
        """
        ...

    async def insert_webhook_delivery(
        self, *, event_id: int, url: str, body: str, due: datetime
    ) -> None: ...

    async def claim_webhook_deliveries(
        self, now: datetime, *, until: datetime, limit: int
    ) -> Sequence[WebhookDelivery]:
        """Take up to ``limit`` due deliveries no process holds, and hold them until ``until``."""
        ...

    async def delete_webhook_delivery(self, seq: int) -> None: ...

    async def reschedule_webhook_delivery(
        self, seq: int, *, attempts: int, due: datetime, error: str
    ) -> None: ...


def _event_from_row(row: sa.Row[Any]) -> EventRecord:
    values = dict(row._mapping)
    values["type"] = EventType(values["type"])
    return EventRecord(**values)


class SQLJournalQueries:
    """The journal queries of ``SQLSession``; see ``JournalSession`` for the contract."""

    _connection: AsyncConnection
    _locks_rows: bool

    async def insert_events(self, records: Sequence[EventRecord]) -> list[int]:
        rows = [
            {"at": r.at, "type": r.type.value, "service_id": r.service_id, "job_id": r.job_id,
             "status": r.status, "attempt": r.attempt, "worker": r.worker, "detail": r.detail}
            for r in records
        ]
        statement = events.insert().returning(events.c.seq, sort_by_parameter_order=True)
        result = await self._connection.execute(statement, rows)
        return list(result.scalars().all())

    async def read_events(
        self,
        after: int,
        *,
        upto: int,
        service_ids: Collection[UUID] = (),
        job_ids: Collection[UUID] = (),
        limit: int,
    ) -> Sequence[EventRecord]:
        query = (events.select()
                 .where(events.c.seq > after, events.c.seq <= upto)
                 .order_by(events.c.seq)
                 .limit(limit))
        if service_ids:
            query = query.where(events.c.service_id.in_(list(service_ids)))
        if job_ids:
            query = query.where(events.c.job_id.in_(list(job_ids)))
        return [_event_from_row(row) for row in await self._connection.execute(query)]

    async def event_ids_after(self, after: int, limit: int) -> Sequence[int]:
        query = sa.select(events.c.seq).where(events.c.seq > after).order_by(events.c.seq)
        result = await self._connection.execute(query.limit(limit))
        return list(result.scalars().all())

    async def event_id_range(self) -> tuple[int, int] | None:
        query = sa.select(sa.func.min(events.c.seq), sa.func.max(events.c.seq))
        oldest, newest = (await self._connection.execute(query)).one()
        if oldest is None:
            return None
        return int(oldest), int(newest)

    async def purge_events(self, *, before: datetime, keep: int) -> int:
        newest = (await self._connection.execute(sa.select(sa.func.max(events.c.seq)))).scalar()
        if newest is None:
            return 0
        statement = events.delete().where(
            sa.or_(events.c.at < before, events.c.seq <= newest - keep),
            # The newest event stays, so the stream can tell a client how far ids went.
            events.c.seq < newest,
        )
        result = await self._connection.execute(statement)
        return result.rowcount

    async def service_callback_url(self, service_id: UUID) -> str | None:
        query = sa.select(services.c.callback_url).where(services.c.id == service_id)
        url: str | None = (await self._connection.execute(query)).scalar()
        return url

    async def check_in_times(self) -> Sequence[tuple[UUID, datetime, int]]:
        query = (sa.select(services.c.id, services.c.last_checked_in, services.c.timeout)
                 .where(services.c.timed_out_at.is_(None)))
        return [(row.id, row.last_checked_in, row.timeout)
                for row in await self._connection.execute(query)]

    async def mark_service_timed_out(
        self, service_id: UUID, now: datetime, *, checked_in_at: datetime | None
    ) -> bool:
        statement = services.update().where(
            services.c.id == service_id, services.c.timed_out_at.is_(None)
        )
        if checked_in_at is not None:
            statement = statement.where(services.c.last_checked_in == checked_in_at)
            statement = statement.values(timed_out_at=now)
        else:
            statement = statement.values(timed_out_at=now, is_available=False)
        result = await self._connection.execute(statement)
        return result.rowcount == 1

    async def insert_webhook_delivery(
        self, *, event_id: int, url: str, body: str, due: datetime
    ) -> None:
        await self._connection.execute(webhook_deliveries.insert().values(
            event_id=event_id, url=url, body=body, next_attempt_at=due))

    async def claim_webhook_deliveries(
        self, now: datetime, *, until: datetime, limit: int
    ) -> Sequence[WebhookDelivery]:
        table = webhook_deliveries
        query = (
            sa.select(table.c.seq, table.c.event_id, table.c.url, table.c.body, table.c.attempts)
            .where(table.c.next_attempt_at <= now,
                   sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
            .order_by(table.c.next_attempt_at)
            .limit(limit)
        )
        if self._locks_rows:
            query = query.with_for_update(skip_locked=True)
        due = [WebhookDelivery(**row._mapping) for row in await self._connection.execute(query)]
        if due:
            await self._connection.execute(
                table.update().where(table.c.seq.in_([d.seq for d in due]))
                .values(claimed_until=until))
        return due

    async def delete_webhook_delivery(self, seq: int) -> None:
        await self._connection.execute(
            webhook_deliveries.delete().where(webhook_deliveries.c.seq == seq))

    async def reschedule_webhook_delivery(
        self, seq: int, *, attempts: int, due: datetime, error: str
    ) -> None:
        await self._connection.execute(
            webhook_deliveries.update().where(webhook_deliveries.c.seq == seq)
            .values(attempts=attempts, next_attempt_at=due, claimed_until=None,
                    last_error=error))
