"""Following the event journal for ``GET /events``.

Each stream reads the journal itself, with its own filters, but only up to
the process's *horizon*: the highest id below which every event has either
committed or will never exist. On PostgreSQL ids are handed out before commit,
so event 12 can be visible while event 11 is still in an open transaction. A
stream that read past 11 would never see it. The tail task of each process
therefore advances the horizon only over contiguous ids, and skips a missing
id once it stayed missing for ``gap_grace_seconds`` (its transaction rolled
back, or a purge removed it). On SQLite writers take turns, so there are no
gaps and the horizon is simply the newest id.

The tail task runs only while at least one stream is open. It wakes on every
local change and every notification from another process, and polls every
``poll_seconds`` in case a notification was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from topchef.broker.events import STREAMS_KEY
from topchef.broker.journal import EventRecord
from topchef.broker.notify import Notifier

if TYPE_CHECKING:
    from topchef.broker.broker import Clock
    from topchef.store.base import Store

log = logging.getLogger(__name__)

HORIZON_KEY = ("events", "horizon")
"""The notifier key streams wait on: the tail task notifies it when the horizon moves."""
READ_BATCH_SIZE = 500
READY_CHECK_SECONDS = 0.5
"""While the tail task cannot read the journal, a new stream checks this often for
its client leaving."""
TAIL_BATCH_SIZE = 2000

DEFAULT_HEARTBEAT_SECONDS = 15.0
DEFAULT_RETRY_MS = 3000
DEFAULT_WINDOW_EVENTS = 10_000
DEFAULT_WINDOW_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    """A ``: keep-alive`` comment goes out after this many seconds without an event."""
    retry_ms: int = DEFAULT_RETRY_MS
    """The reconnection delay the stream suggests to clients (the ``retry:`` field)."""
    window_events: int = DEFAULT_WINDOW_EVENTS
    """The purge keeps at most this many of the newest events for resuming."""
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    """The purge deletes events older than this."""
    gap_grace_seconds: float = 5.0
    poll_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The events a stream sends: all of them when both sets are empty.

    Several ids of one kind match any of them; a service and a job filter
    together match only events that pass both.
    """

    service_ids: frozenset[UUID] = frozenset()
    job_ids: frozenset[UUID] = frozenset()


@dataclass(frozen=True, slots=True)
class Reset:
    """The client's ``after`` id is outside the retained window, so it missed events."""

    after: int
    """The id the client asked to resume after."""
    resume_after: int
    """The id the stream continues after."""
    oldest: int | None
    """The oldest retained event id, or None when none is stored."""


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """No event for a while: the stream sends a comment line so proxies keep it open."""


StreamItem = EventRecord | Reset | KeepAlive


@dataclass(eq=False, slots=True)
class _Tail:
    """One run of the tail task: the horizon it keeps and whether it should stop."""

    horizon: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False
    gap_since: float | None = None
    task: asyncio.Task[None] | None = None


class EventFeed:
    """The streams of one server process over the shared event journal."""

    def __init__(self, store: Store, notifier: Notifier, *, clock: Clock,
                 draining: asyncio.Event, settings: StreamSettings | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self.settings = settings or StreamSettings()
        self.open_streams = 0
        """Streams open in this process right now, for metrics."""
        self._clock = clock
        self._draining = draining
        self._tail: _Tail | None = None

    async def follow(
        self, after: int | None, event_filter: EventFilter, *, stop: asyncio.Event
    ) -> AsyncIterator[StreamItem]:
        """Yield the stream's items until ``stop`` is set or the server drains.

        ``after`` is the id the client saw last: None follows new events only,
        0 replays the whole retained window first.
        """
        self.open_streams += 1
        tail = self._start_tail()
        try:
            while not tail.ready.is_set():
                if stop.is_set() or self._draining.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tail.ready.wait(), READY_CHECK_SECONDS)
            position, reset = await self._start_position(after, tail.horizon)
            if reset is not None:
                yield reset
            async for item in self._items(tail, position, event_filter, stop):
                yield item
        finally:
            self.open_streams -= 1
            if self.open_streams == 0:
                self._stop_tail()

    async def _start_position(self, after: int | None, horizon: int) -> tuple[int, Reset | None]:
        if after == 0:
            return 0, None
        if after is None:
            return horizon, None
        async with self.store.read() as session:
            bounds = await session.event_id_range()

        oldest = None if bounds is None else bounds[0]
        if bounds is None or after > bounds[1]:
            # An id this database never issued (another server, or a restored backup).
            return horizon, Reset(after, horizon, oldest)
        if after < bounds[0] - 1:
            return bounds[0] - 1, Reset(after, bounds[0] - 1, oldest)
        return after, None

    async def _items(
        self, tail: _Tail, position: int, event_filter: EventFilter, stop: asyncio.Event
    ) -> AsyncIterator[StreamItem]:
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        while not (stop.is_set() or self._draining.is_set()):
            with self.notifier.waiter(HORIZON_KEY) as waiter:
                horizon = tail.horizon
                records = await self._read(position, horizon, event_filter)
                for record in records:
                    yield record
                if records:
                    last_sent = loop.time()
                position = records[-1].seq if len(records) == READ_BATCH_SIZE else horizon
                if len(records) == READ_BATCH_SIZE:
                    continue

                remaining = last_sent + self.settings.heartbeat_seconds - loop.time()
                if remaining <= 0:
                    yield KeepAlive()
                    last_sent = loop.time()
                    continue
                # A drain wakes every waiter (Dispatcher.drain), so the loop condition ends it.
                await waiter.wait(remaining, abort=stop)

    async def _read(self, position: int, horizon: int,
                    event_filter: EventFilter) -> list[EventRecord]:
        if horizon <= position:
            return []
        async with self.store.read() as session:
            return list(await session.read_events(
                position, upto=horizon, service_ids=event_filter.service_ids,
                job_ids=event_filter.job_ids, limit=READ_BATCH_SIZE))

    # The tail task

    def _start_tail(self) -> _Tail:
        if self._tail is None:
            tail = _Tail()
            tail.task = asyncio.create_task(self._run_tail(tail), name="topchef-event-tail")
            self._tail = tail
        return self._tail

    def _stop_tail(self) -> None:
        if self._tail is not None:
            self._tail.stopped = True
            self._tail = None
            self.notifier.notify_all(STREAMS_KEY)

    async def _run_tail(self, tail: _Tail) -> None:
        failures = 0
        while not tail.stopped and not self._draining.is_set():
            with self.notifier.waiter(STREAMS_KEY) as waiter:
                try:
                    if not tail.ready.is_set():
                        await self._start_horizon(tail)
                    elif await self._advance(tail):
                        self.notifier.notify_all(HORIZON_KEY)
                    failures = 0
                except Exception:
                    failures += 1
                    if failures == 1:  # once per outage
                        log.exception("reading the event journal failed; event streams wait "
                                      "and retry every %g s", self.settings.poll_seconds)
                await waiter.wait(self._tail_wait(tail), abort=self._draining)
        # Wake streams still waiting so they notice the drain and end.
        self.notifier.notify_all(HORIZON_KEY)

    async def _start_horizon(self, tail: _Tail) -> None:
        # NOTE: an event in a transaction still open at this moment, with an id
        # below the newest, is not streamed by the streams starting now (PostgreSQL).
        async with self.store.read() as session:
            bounds = await session.event_id_range()
        tail.horizon = 0 if bounds is None else bounds[1]
        tail.ready.set()

    def _tail_wait(self, tail: _Tail) -> float:
        if tail.gap_since is None:
            return self.settings.poll_seconds
        waited = asyncio.get_running_loop().time() - tail.gap_since
        return max(0.05, min(self.settings.poll_seconds,
                             self.settings.gap_grace_seconds - waited))

    async def _advance(self, tail: _Tail) -> bool:
        """Move the horizon over contiguous ids and over old gaps; return whether it moved."""
        async with self.store.read() as session:
            ids = await session.event_ids_after(tail.horizon, TAIL_BATCH_SIZE)
        if tail.stopped:
            return False

        start = tail.horizon
        now = asyncio.get_running_loop().time()
        for event_id in ids:
            if event_id == tail.horizon + 1:
                tail.horizon = event_id
                tail.gap_since = None
                continue
            if tail.gap_since is None:
                tail.gap_since = now
            if now - tail.gap_since < self.settings.gap_grace_seconds:
                break
            log.debug("event ids %d to %d never committed; streams skip them",
                      tail.horizon + 1, event_id - 1)
            tail.horizon = event_id
            tail.gap_since = None
        return tail.horizon > start

    # Retention

    async def purge(self) -> int:
        """Delete events outside the resume window; return how many."""
        before = self._clock() - timedelta(seconds=self.settings.window_seconds)
        async with self.store.write() as session:
            return await session.purge_events(before=before, keep=self.settings.window_events)
