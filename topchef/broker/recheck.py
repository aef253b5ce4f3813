"""Cheap, shared queue checks for idle long polls.

A waiting claim is woken when a job arrives, but a wake-up can be lost (a
NOTIFY missed while the listener reconnected, for example), so every waiting
claim also looks at the queue now and then. Claiming each time would cost a
write transaction per waiter per recheck: 1,000 idle polls would commit about
200 empty transactions a second. Instead a waiter calls ``QueueCheck`` to
learn whether a job is claimable. That is one read transaction, shared by
every waiter of the same service that calls within ``SHARE_SECONDS``, and
only a job found leads to a claim. A shared check started at most
``SHARE_SECONDS`` before the call, so a lost wake-up delays a job by at most
``WAIT_RECHECK_SECONDS`` plus ``SHARE_SECONDS`` and never strands it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from topchef.store.base import Store

log = logging.getLogger(__name__)

SHARE_SECONDS = 0.5
"""Waiters of one service that call within this many seconds share one read."""


@dataclass
class _Check:
    started: float
    claimable: asyncio.Future[bool]


class QueueCheck:
    """Tells idle long polls, with shared reads, whether a claim may find a job now."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._checks: dict[UUID, _Check] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def worth_claiming(self, service_id: UUID) -> bool:
        """Return whether a job of the service is claimable, or the service is gone.

        For a gone service it returns True, so that the claim that follows reports it.
        """
        loop = asyncio.get_running_loop()
        check = self._checks.get(service_id)
        if check is None or loop.time() - check.started > SHARE_SECONDS:
            check = _Check(loop.time(), loop.create_future())
            self._checks[service_id] = check
            task = loop.create_task(self._run(service_id, check))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await asyncio.shield(check.claimable)

    async def _run(self, service_id: UUID, check: _Check) -> None:
        claimable = True  # after a failure the waiters claim, and the claim reports the error
        try:
            async with self._store.read() as session:
                if await session.get_service(service_id) is not None:
                    claimable = bool(await session.next_jobs(service_id, 1, self._clock()))
        except Exception as exc:
            log.warning("queue check of service %s failed, so its waiting claims claim "
                        "instead: %s", service_id, exc)
        finally:
            check.claimable.set_result(claimable)
            asyncio.get_running_loop().call_later(
                SHARE_SECONDS, self._forget, service_id, check)

    def _forget(self, service_id: UUID, check: _Check) -> None:
        if self._checks.get(service_id) is check:
            del self._checks[service_id]
