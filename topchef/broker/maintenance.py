"""The server's background upkeep: expiring leases, timing out services, purging old
finished jobs and events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from topchef.broker.dispatch import EXPIRY_BATCH_SIZE
from topchef.broker.timeouts import time_out_services

if TYPE_CHECKING:
    from topchef.broker.broker import Broker

log = logging.getLogger(__name__)

LEASE_SWEEP_SECONDS = 1.0
PURGE_SWEEP_SECONDS = 60.0
PURGE_BATCH_SIZE = 500
"""Jobs deleted per transaction, so a large purge keeps the write lock only briefly."""


async def expire_all_leases(broker: Broker) -> int:
    """Handle every expired lease, one bounded batch per transaction; return how many."""
    total = 0
    while True:
        handled = await broker.dispatch.expire_leases()
        total += handled
        if handled < EXPIRY_BATCH_SIZE:
            return total


async def purge_finished_jobs(broker: Broker) -> int:
    """Delete finished jobs older than their service's retention; return how many."""
    total = 0
    for service in await broker.list_services():
        if service.retention_seconds is None:
            continue
        try:
            before = broker.now() - timedelta(seconds=service.retention_seconds)
        except OverflowError:
            log.warning("service %s: retention_seconds %d is too large to purge by; skipped",
                        service.id, service.retention_seconds)
            continue
        purged = 0
        while True:
            async with broker.store.write() as session:
                deleted = await session.purge_finished(service.id, before, PURGE_BATCH_SIZE)
            purged += deleted
            if deleted < PURGE_BATCH_SIZE:
                break
        if purged:
            log.info("service %s: purged finished jobs older than %s (count %d, retention %d s)",
                     service.id, before.isoformat(), purged, service.retention_seconds)
        total += purged
    return total


async def purge_events(broker: Broker) -> int:
    """Delete events outside the resume window of ``GET /events``; return how many."""
    purged = await broker.feed.purge()
    if purged:
        log.info("purged events outside the resume window (count %d)", purged)
    return purged


async def run_maintenance(
    broker: Broker,
    stop: asyncio.Event,
    *,
    lease_sweep_seconds: float = LEASE_SWEEP_SECONDS,
    purge_sweep_seconds: float = PURGE_SWEEP_SECONDS,
) -> None:
    """Sweep leases and retention until ``stop`` is set; a failed sweep is logged and retried.

    The loop stops between sweeps, never inside one, so no store call is cut off.
    """
    loop = asyncio.get_running_loop()
    next_purge = loop.time()
    failures = 0
    while not stop.is_set():
        try:
            await expire_all_leases(broker)
            await time_out_services(broker)
            if loop.time() >= next_purge:
                next_purge = loop.time() + purge_sweep_seconds
                await purge_finished_jobs(broker)
                await purge_events(broker)
        except Exception:
            failures += 1
            if failures == 1:  # once per outage, not once a second
                log.exception("background sweep of leases and retention failed; retrying "
                              "every %g s", lease_sweep_seconds)
        else:
            if failures:
                log.info("background sweep works again (failed sweeps: %d)", failures)
            failures = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), lease_sweep_seconds)
