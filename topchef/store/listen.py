"""A PostgreSQL LISTEN loop that survives dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import psycopg
from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

RECONNECT_DELAYS_SECONDS = (0.5, 1, 2, 5)
"""Waits between reconnection attempts; the last one repeats until it works."""


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _listen_forever(url: URL, channel: str, receive: Callable[[str], None]) -> None:
    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                _conninfo(url), autocommit=True
            ) as connection:
                await connection.execute(f"LISTEN {channel}")
                if failures:
                    log.info("listening for job notifications again (failed attempts: %d)",
                             failures)
                failures = 0
                async for notification in connection.notifies():
                    receive(notification.payload)
        except psycopg.OperationalError as exc:
            if failures == 0:
                # Once per outage; long polls still recheck the queue on their own meanwhile.
                log.warning("lost the job notification connection to %s (%s); reconnecting",
                            url.render_as_string(hide_password=True),
                            str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            delay = RECONNECT_DELAYS_SECONDS[min(failures, len(RECONNECT_DELAYS_SECONDS) - 1)]
            failures += 1
            await asyncio.sleep(delay)


@contextlib.asynccontextmanager
async def listen_for_notifications(
    url: URL, channel: str, receive: Callable[[str], None]
) -> AsyncIterator[None]:
    """Run a LISTEN loop on ``channel`` in the background while the block runs."""
    task = asyncio.create_task(_listen_forever(url, channel, receive), name="topchef-listen")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
