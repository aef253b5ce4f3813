"""The webhook deliverer: sends the outbox's POSTs, at least once, across restarts.

Each server process runs one deliverer. It claims due rows of the outbox for
a while (so two processes never send the same row at the same time), POSTs
each with httpx, never following redirects, and deletes the row once the
receiver responded with 2xx. A failed attempt is retried with exponential backoff
up to ``max_attempts``. A row whose claim ran out because its process died
is claimed again, so a receiver may get a delivery twice: it should
deduplicate on ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from topchef.broker.journal import WebhookDelivery
from topchef.broker.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSettings,
    host_allowed,
    retry_delay,
    sign,
)

if TYPE_CHECKING:
    from topchef.broker.broker import Broker

log = logging.getLogger(__name__)

CLAIM_BATCH_SIZE = 20
CLAIM_MARGIN_SECONDS = 30.0
"""A claim lasts the whole batch's timeouts plus this, so it outlives a slow batch."""
ERROR_MAX_CHARS = 200


class WebhookDeliverer:
    def __init__(self, broker: Broker, settings: WebhookSettings,
                 *, rng: random.Random | None = None) -> None:
        self.broker = broker
        self.settings = settings
        self._rng = rng or random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due webhooks until ``stop`` is set; a failed round is logged and retried."""
        failures = 0
        async with httpx.AsyncClient(timeout=self.settings.timeout_seconds,
                                     follow_redirects=False, trust_env=False) as client:
            while not stop.is_set():
                try:
                    while await self.deliver_due(client, stop) == CLAIM_BATCH_SIZE:
                        pass
                    failures = 0
                except Exception:
                    failures += 1
                    if failures == 1:  # once per outage
                        log.exception("webhook delivery round failed; retrying every %g s",
                                      self.settings.poll_seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.poll_seconds)

    async def deliver_due(self, client: httpx.AsyncClient, stop: asyncio.Event) -> int:
        """Claim and send one batch of due deliveries; return how many were claimed.

        Once ``stop`` is set, the deliveries not yet sent are released for the
        next process instead of waiting out their claim.
        """
        now = self.broker.now()
        hold = CLAIM_BATCH_SIZE * self.settings.timeout_seconds + CLAIM_MARGIN_SECONDS
        async with self.broker.store.write() as session:
            due = await session.claim_webhook_deliveries(
                now, until=now + timedelta(seconds=hold), limit=CLAIM_BATCH_SIZE)
        for index, delivery in enumerate(due):
            if stop.is_set():
                await self._release(due[index:])
                break
            await self._deliver(client, delivery)
        return len(due)

    async def _release(self, deliveries: Sequence[WebhookDelivery]) -> None:
        async with self.broker.store.write() as session:
            for delivery in deliveries:
                await session.reschedule_webhook_delivery(
                    delivery.seq, attempts=delivery.attempts, due=self.broker.now(),
                    error="not sent: the server process stopped")

    async def _deliver(self, client: httpx.AsyncClient, delivery: WebhookDelivery) -> None:
        if not host_allowed(delivery.url, self.settings.allow_hosts):
            log.warning("webhook for event %d dropped: the host of %s is no longer on the "
                        "allowlist; add it with --webhook-allow-host to deliver such webhooks",
                        delivery.event_id, delivery.url)
            await self._forget(delivery)
            return

        error = await self._post(client, delivery)
        if error is None:
            log.info("webhook for event %d delivered to %s (attempt %d)",
                     delivery.event_id, delivery.url, delivery.attempts + 1)
            await self._forget(delivery)
            return

        attempts = delivery.attempts + 1
        if attempts >= self.settings.max_attempts:
            log.error("webhook for event %d to %s abandoned after %d attempts: %s",
                      delivery.event_id, delivery.url, attempts, error)
            await self._forget(delivery)
            return
        delay = retry_delay(self.settings, attempts, self._rng)
        log.warning("webhook for event %d to %s failed (attempt %d of %d): %s; retrying in "
                    "%.1f s", delivery.event_id, delivery.url, attempts,
                    self.settings.max_attempts, error, delay)
        async with self.broker.store.write() as session:
            await session.reschedule_webhook_delivery(
                delivery.seq, attempts=attempts,
                due=self.broker.now() + timedelta(seconds=delay), error=error)

    async def _post(self, client: httpx.AsyncClient, delivery: WebhookDelivery) -> str | None:
        """Send one attempt; return None on a 2xx response, else what went wrong."""
        body = delivery.body.encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp)}
        if self.settings.secret:
            headers[SIGNATURE_HEADER] = sign(self.settings.secret, timestamp, body)
        try:
            response = await client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
        if response.is_success:
            return None
        return f"the receiver answered {response.status_code}"

    async def _forget(self, delivery: WebhookDelivery) -> None:
        async with self.broker.store.write() as session:
            await session.delete_webhook_delivery(delivery.seq)
