"""Settings and background tasks of the event stream and the webhook deliverer."""

from __future__ import annotations

import asyncio
import logging

from topchef.broker import Broker
from topchef.broker.stream import StreamSettings
from topchef.broker.webhooks import WebhookSettings, parse_allow_hosts
from topchef.config import Settings
from topchef.webhook_delivery import WebhookDeliverer

log = logging.getLogger(__name__)


def stream_settings(settings: Settings) -> StreamSettings:
    return StreamSettings(
        heartbeat_seconds=settings.event_heartbeat_seconds,
        window_events=settings.event_window_events,
        window_seconds=settings.event_window_seconds,
    )


def webhook_settings_of(settings: Settings) -> WebhookSettings:
    """Return the webhook settings; raise ValueError if hosts are allowed but no secret is set."""
    allow_hosts = parse_allow_hosts(settings.webhook_allow_hosts)
    if allow_hosts and not settings.webhook_secret:
        raise ValueError("webhook hosts are allowed but no webhook secret is set; set "
                         "--webhook-secret or TOPCHEF_WEBHOOK_SECRET so receivers can check "
                         "deliveries")
    return WebhookSettings(secret=settings.webhook_secret, allow_hosts=allow_hosts)


def start_webhook_delivery(
    broker: Broker, settings: WebhookSettings, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Start delivering webhooks until ``stop`` is set; None when no host is allowed."""
    if not settings.enabled:
        return None
    log.info("webhook delivery on (allowed hosts: %s)", ", ".join(sorted(settings.allow_hosts)))
    deliverer = WebhookDeliverer(broker, settings)
    return asyncio.create_task(deliverer.run(stop), name="topchef-webhooks")
