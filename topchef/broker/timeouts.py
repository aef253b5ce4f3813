"""Service timeouts: ``service.timed_out`` once per timeout, from any number of processes.

A service times out when its last check-in is older than its ``timeout``.
The maintenance sweep of every server process looks for such services and
marks each with a conditional UPDATE of ``timed_out_at`` that only succeeds
while the column is empty and the check-in is the one the sweep read. So
exactly one process records the event, and a check-in that arrives meanwhile
wins. A check-in clears ``timed_out_at``, which arms the next timeout.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from topchef.broker.errors import ServiceNotFound
from topchef.broker.events import RECORDED
from topchef.broker.journal import EventType, record_events, service_event
from topchef.broker.models import Service

if TYPE_CHECKING:
    from topchef.broker.broker import Broker

log = logging.getLogger(__name__)


async def time_out_services(broker: Broker) -> int:
    """Record ``service.timed_out`` for services whose check-in is overdue; return how many."""
    now = broker.now()
    async with broker.store.read() as session:
        candidates = await session.check_in_times()

    marked = 0
    for service_id, checked_in_at, timeout in candidates:
        if now - checked_in_at <= timedelta(seconds=timeout):
            continue
        detail = {"last_checked_in": checked_in_at.isoformat(), "timeout": timeout}
        async with broker.store.write() as session:
            if not await session.mark_service_timed_out(service_id, now,
                                                        checked_in_at=checked_in_at):
                continue  # another process marked it, or the service checked in
            await record_events(session, service_event(
                EventType.SERVICE_TIMED_OUT, service_id, now, detail))
            await broker.events.announce(session, RECORDED)
        marked += 1
        log.warning("service %s timed out: no check-in since %s (timeout %d s)",
                    service_id, checked_in_at.isoformat(), timeout)
        broker.events.deliver(RECORDED)
    return marked


async def mark_unavailable(broker: Broker, service_id: UUID) -> Service:
    """Mark the service unavailable and timed out now, as an administrator's action.

    ``service.timed_out`` is recorded unless the service was marked timed out
    already; the service stays unavailable until a check-in sets
    ``is_available`` again.
    """
    now = broker.now()
    async with broker.store.write() as session:
        service = await session.get_service(service_id)
        if service is None:
            raise ServiceNotFound(service_id)
        newly = await session.mark_service_timed_out(service_id, now, checked_in_at=None)
        if newly:
            await record_events(session, service_event(
                EventType.SERVICE_TIMED_OUT, service_id, now, {"by": "administrator"}))
            await broker.events.announce(session, RECORDED)
        else:
            await session.update_service(service_id, {"is_available": False})
        service = await session.get_service(service_id)
    assert service is not None  # read in this same transaction

    if newly:
        broker.events.deliver(RECORDED)
    log.info("service %s marked unavailable by an administrator (already timed out: %s)",
             service_id, "no" if newly else "yes")
    return service
