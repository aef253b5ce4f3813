"""In-process wake-ups for long polls.

A claimer waiting for work registers a waiter on its service *before* it tries
to claim, so a job submitted between the failed claim and the wait still wakes
it. Each new job wakes one waiter, oldest first. A waiter that was woken but
leaves without claiming (its client went away) passes the wake-up on, so a
job is never left behind while another waiter sleeps. Waiters of a job's
result are all woken when the job finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable
from types import TracebackType
from typing import Any


class Waiter:
    """One registration; use as ``with notifier.waiter(key) as w: ...; await w.wait(t)``."""

    def __init__(self, notifier: Notifier, key: Hashable) -> None:
        self._notifier = notifier
        self._key = key
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._used = False

    def __enter__(self) -> Waiter:
        self._notifier._register(self._key, self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._notifier._unregister(self._key, self)
        if self._future.done() and not self._used:
            # Woken for a job this waiter will not claim: wake the next one.
            self._notifier.notify(self._key)
        self._future.cancel()

    @property
    def woken(self) -> bool:
        return self._future.done() and not self._future.cancelled()

    def wake(self) -> bool:
        """Wake this waiter; return False if it had been woken already."""
        if self._future.done():
            return False
        self._future.set_result(None)
        return True

    async def wait(self, timeout: float, *, abort: asyncio.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds; return whether a wake-up came.

        Setting ``abort`` (the client went away, the server is stopping) ends
        the wait early with False, and the wake-up, if one came, is passed on.
        """
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(asyncio.shield(self._future))}
        aborted = asyncio.ensure_future(abort.wait()) if abort is not None else None
        if aborted is not None:
            waits.add(aborted)
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in waits:
                pending.cancel()
        if abort is not None and abort.is_set():
            return False
        if not self.woken:
            return False
        self._used = True
        return True


class Notifier:
    def __init__(self) -> None:
        self._waiters: dict[Hashable, deque[Waiter]] = {}

    def waiter(self, key: Hashable) -> Waiter:
        return Waiter(self, key)

    def _register(self, key: Hashable, waiter: Waiter) -> None:
        self._waiters.setdefault(key, deque()).append(waiter)

    def _unregister(self, key: Hashable, waiter: Waiter) -> None:
        queue = self._waiters.get(key)
        if queue is None:
            return
        with contextlib.suppress(ValueError):
            queue.remove(waiter)
        if not queue:
            del self._waiters[key]

    def notify(self, key: Hashable, count: int = 1) -> int:
        """Wake up to ``count`` waiters on ``key``, oldest first; return how many woke."""
        woken = 0
        queue = self._waiters.get(key)
        if queue is None:
            return woken

        for waiter in list(queue):
            if woken >= count:
                break
            if waiter.wake():
                woken += 1
        return woken

    def wake_all(self) -> int:
        """Wake every waiter on every key; return how many woke."""
        return sum(self.notify_all(key) for key in list(self._waiters))

    def notify_all(self, key: Hashable) -> int:
        return self.notify(key, count=len(self._waiters.get(key, ())))

    def waiting(self, key: Hashable | None = None) -> int:
        """Count registered waiters, on one key or on all."""
        if key is not None:
            return len(self._waiters.get(key, ()))
        return sum(len(queue) for queue in self._waiters.values())
