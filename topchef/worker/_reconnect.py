"""Backoff between attempts to reach the server, and one log record per outage."""

from __future__ import annotations

import logging
import random
import time

log = logging.getLogger("topchef.worker")

INITIAL_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
MAX_DOUBLINGS = 16
"""Past this many failures the delay stops growing (and 2 ** n cannot overflow)."""
JITTER = (0.5, 1.0)
"""Each delay is scaled by a random factor in this range, so that workers which lost
the server together do not all come back at the same moment."""


class Backoff:
    """Delays that double from INITIAL_DELAY_SECONDS up to MAX_DELAY_SECONDS, with jitter."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        doublings = min(self._failures, MAX_DOUBLINGS)
        base: float = min(MAX_DELAY_SECONDS, INITIAL_DELAY_SECONDS * 2.0 ** doublings)
        self._failures += 1
        return base * self._rng.uniform(*JITTER)

    def reset(self) -> None:
        self._failures = 0


class OutageLog:
    """Log that the server became unreachable, and that it came back, once per outage.

    Every request of the worker reports here, so an outage seen by the claim
    loop, the heartbeats and the check-ins at once still gives two records.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._since: float | None = None
        self._failures = 0

    @property
    def in_outage(self) -> bool:
        return self._since is not None

    def failed(self, error: Exception) -> None:
        self._failures += 1
        if self._since is not None:
            return
        self._since = time.monotonic()
        log.warning("server %s is unreachable (%s); retrying with backoff until it responds",
                    self._url, error, extra={"action": "server_unreachable"})

    def succeeded(self) -> None:
        if self._since is None:
            return
        log.info("server %s responds again after %.1f s and %d failed requests", self._url,
                 time.monotonic() - self._since, self._failures,
                 extra={"action": "server_reachable"})
        self._since = None
        self._failures = 0
