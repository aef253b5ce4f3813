"""Webhook rules: which callback URLs are allowed, how a delivery is signed and retried.

The server POSTs ``{"job_id", "service_id", "status", "event_id"}`` to a
service's ``callback_url`` when one of its jobs finishes. Only hosts on the
operator's allowlist may be called; none are by default. Each request carries
``X-TopChef-Timestamp`` (Unix seconds) and ``X-TopChef-Signature:
sha256=HEX``, the HMAC-SHA256 under the shared secret of the timestamp, a
dot, and the body. Because the timestamp is signed, a receiver that rejects
old timestamps also rejects replayed requests.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from topchef.broker.errors import InvalidInput, Problem

SIGNATURE_HEADER = "X-TopChef-Signature"
TIMESTAMP_HEADER = "X-TopChef-Timestamp"
CALLBACK_URL_MAX_CHARS = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_RETRY_DELAY_SECONDS = 1.0
DEFAULT_RETRY_DELAY_MAX_SECONDS = 300.0
RETRY_JITTER = (0.5, 1.0)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    secret: str = ""
    """The shared secret deliveries are signed with; required once any host is allowed."""
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    """``host`` (any port) or ``host:port`` entries, lower case; empty allows none."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    """How long one delivery may take, connecting and reading the response together."""
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    """Backoff after the first failed attempt; it doubles with each attempt."""
    retry_delay_max_seconds: float = DEFAULT_RETRY_DELAY_MAX_SECONDS
    poll_seconds: float = 1.0
    """How often each server process looks for due deliveries."""

    @property
    def enabled(self) -> bool:
        return bool(self.allow_hosts)


def parse_allow_hosts(entries: Iterable[str]) -> frozenset[str]:
    """Return allowlist entries from ``HOST[:PORT]`` texts, also comma-separated ones."""
    hosts: set[str] = set()
    for entry in entries:
        hosts.update(part.strip().lower() for part in entry.split(",") if part.strip())
    return frozenset(hosts)


def host_allowed(url: str, allow_hosts: frozenset[str]) -> bool:
    """Return whether ``url``'s host, with or without its port, is on the allowlist."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    return host in allow_hosts or f"{host}:{port}" in allow_hosts


def check_callback_url(url: str, allow_hosts: frozenset[str]) -> None:
    """Raise InvalidInput unless ``url`` is an http(s) URL to a host on the allowlist."""
    parts = urlsplit(url)
    problem = None
    if len(url) > CALLBACK_URL_MAX_CHARS:
        problem = f"callback_url is longer than {CALLBACK_URL_MAX_CHARS} characters"
    elif parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        problem = f"callback_url {url[:80]!r} is not an http or https URL with a host"
    elif parts.username is not None or parts.password is not None:
        problem = "callback_url must not contain credentials; receivers check the signature"
    elif not host_allowed(url, allow_hosts):
        allowed = ", ".join(sorted(allow_hosts)) or "none"
        problem = (f"callback_url host {parts.netloc!r} is not on this server's webhook "
                   f"allowlist (allowed: {allowed}); ask the operator to add it with "
                   "--webhook-allow-host")
    if problem is not None:
        raise InvalidInput(Problem("Invalid Callback URL", problem))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-TopChef-Signature`` value for ``body`` sent at ``timestamp``."""
    message = b"%d." % timestamp + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def retry_delay(settings: WebhookSettings, attempts: int, rng: random.Random) -> float:
    """Return seconds to wait after ``attempts`` failed attempts (1 after the first)."""
    base = settings.retry_delay_seconds * 2 ** max(attempts - 1, 0)
    delay: float = min(settings.retry_delay_max_seconds, base) * rng.uniform(*RETRY_JITTER)
    return delay
