"""Server settings and where they come from."""

from __future__ import annotations

import os
from dataclasses import dataclass

from topchef.auth.tokens import Token, load_tokens, tokens_variable
from topchef.logs import LOG_FORMATS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DATABASE_URL = "sqlite:///topchef.db"
DEFAULT_MAINTAINER_NAME = "TopChef administrator"
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
"""Room for a full batch of 1,000 jobs with parameters of about 16 KB each."""
DEFAULT_MAX_JSON_DEPTH = 64
DEFAULT_PURGE_INTERVAL_SECONDS = 60.0
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
DEFAULT_EVENT_HEARTBEAT_SECONDS = 15.0
DEFAULT_EVENT_WINDOW_EVENTS = 10_000
DEFAULT_EVENT_WINDOW_SECONDS = 3600.0

DATABASE_URL_VARIABLES = ("TOPCHEF_DATABASE_URL", "DATABASE_URI")
"""Environment variables that set the database URL, first one set wins.
DATABASE_URI is what deployments of the original TopChef used."""


def database_url_from_environment() -> str:
    for name in DATABASE_URL_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    maintainer_name: str = DEFAULT_MAINTAINER_NAME
    """The person or group running this server, as ``GET /`` reports it."""
    maintainer_email: str = ""
    lease_sweep_seconds: float = 1.0
    """How often the server looks for expired leases."""
    purge_interval_seconds: float = DEFAULT_PURGE_INTERVAL_SECONDS
    """How often the server deletes finished jobs past their service's retention."""
    pool_size: int = DEFAULT_POOL_SIZE
    """Database connections each server process keeps open (PostgreSQL)."""
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    """PostgreSQL cancels a statement that runs longer; 0 turns the limit off."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """A larger request body is refused with 413 before it is read to the end."""
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    """Arrays and objects nested deeper than this in a request body are refused."""
    drain_on_stop_signals: bool = False
    """End open long polls when SIGINT or SIGTERM arrives; servers turn this on."""
    migrate_on_start: bool = True
    """Run the Alembic migrations before serving; turn off where they run separately."""
    tokens: tuple[Token, ...] = ()
    """Access tokens with their roles; with none, every request is allowed."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API from another site; none turns CORS off."""
    event_heartbeat_seconds: float = DEFAULT_EVENT_HEARTBEAT_SECONDS
    """An event stream sends a keep-alive comment after this long without an event."""
    event_window_events: int = DEFAULT_EVENT_WINDOW_EVENTS
    """Events kept for resuming a stream: at most this many of the newest..."""
    event_window_seconds: float = DEFAULT_EVENT_WINDOW_SECONDS
    """...and none older than this."""
    webhook_secret: str = ""
    """The shared secret webhook deliveries are signed with."""
    webhook_allow_hosts: tuple[str, ...] = ()
    """``HOST`` or ``HOST:PORT`` entries a ``callback_url`` may name; empty allows none."""
    log_format: str = "text"
    """``text`` or ``json`` (one JSON object per line) for every server log line."""
    access_log: bool = True
    """Log one line per HTTP request (``topchef.requests``)."""


def settings_from_environment() -> Settings:
    """Read the settings ``topchef serve`` also takes from TOPCHEF_* variables."""
    migrate = os.environ.get("TOPCHEF_MIGRATE", "true").strip().lower()
    access_log = os.environ.get("TOPCHEF_ACCESS_LOG", "true").strip().lower()
    return Settings(
        database_url=database_url_from_environment(),
        maintainer_name=os.environ.get("TOPCHEF_MAINTAINER_NAME", DEFAULT_MAINTAINER_NAME),
        maintainer_email=os.environ.get("TOPCHEF_MAINTAINER_EMAIL", ""),
        migrate_on_start=migrate not in ("false", "0", "no", "off"),
        log_format=_log_format_from_environment(),
        access_log=access_log not in ("false", "0", "no", "off"),
        drain_on_stop_signals=True,
        pool_size=int(os.environ.get("TOPCHEF_POOL_SIZE", DEFAULT_POOL_SIZE)),
        max_body_bytes=int(os.environ.get("TOPCHEF_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        purge_interval_seconds=float(
            os.environ.get("TOPCHEF_PURGE_INTERVAL_SECONDS", DEFAULT_PURGE_INTERVAL_SECONDS)
        ),
        statement_timeout_ms=int(
            os.environ.get("TOPCHEF_STATEMENT_TIMEOUT_MS", DEFAULT_STATEMENT_TIMEOUT_MS)
        ),
        tokens=load_tokens(tokens_file=os.environ.get("TOPCHEF_TOKENS_FILE"),
                           tokens_variable_value=os.environ.get("TOPCHEF_TOKENS")),
        cors_origins=cors_origins_from_text(os.environ.get("TOPCHEF_CORS_ORIGINS", "")),
        event_heartbeat_seconds=float(os.environ.get(
            "TOPCHEF_EVENT_HEARTBEAT_SECONDS", DEFAULT_EVENT_HEARTBEAT_SECONDS)),
        event_window_events=int(os.environ.get(
            "TOPCHEF_EVENT_WINDOW_EVENTS", DEFAULT_EVENT_WINDOW_EVENTS)),
        event_window_seconds=float(os.environ.get(
            "TOPCHEF_EVENT_WINDOW_SECONDS", DEFAULT_EVENT_WINDOW_SECONDS)),
        webhook_secret=os.environ.get("TOPCHEF_WEBHOOK_SECRET", ""),
        webhook_allow_hosts=tuple(
            host for host in os.environ.get("TOPCHEF_WEBHOOK_ALLOW_HOSTS", "").split(",") if host
        ),
    )


def cors_origins_from_text(text: str) -> tuple[str, ...]:
    """Split a comma-separated list of origins such as ``https://a.example,http://b:8080``."""
    return tuple(origin.strip() for origin in text.split(",") if origin.strip())


def _log_format_from_environment() -> str:
    value = os.environ.get("TOPCHEF_LOG_FORMAT", "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"TOPCHEF_LOG_FORMAT is {value!r}; set it to text or json")
    return value


def settings_to_environment(settings: Settings) -> dict[str, str]:
    """Return the variables that make ``settings_from_environment`` rebuild ``settings``."""
    return {
        "TOPCHEF_DATABASE_URL": settings.database_url,
        "TOPCHEF_MAINTAINER_NAME": settings.maintainer_name,
        "TOPCHEF_MAINTAINER_EMAIL": settings.maintainer_email,
        "TOPCHEF_MIGRATE": "true" if settings.migrate_on_start else "false",
        "TOPCHEF_POOL_SIZE": str(settings.pool_size),
        "TOPCHEF_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "TOPCHEF_PURGE_INTERVAL_SECONDS": str(settings.purge_interval_seconds),
        "TOPCHEF_STATEMENT_TIMEOUT_MS": str(settings.statement_timeout_ms),
        # The digests of every token, whether it came from a file or the environment.
        "TOPCHEF_TOKENS_FILE": "",
        "TOPCHEF_TOKENS": tokens_variable(settings.tokens),
        "TOPCHEF_CORS_ORIGINS": ",".join(settings.cors_origins),
        "TOPCHEF_EVENT_HEARTBEAT_SECONDS": str(settings.event_heartbeat_seconds),
        "TOPCHEF_EVENT_WINDOW_EVENTS": str(settings.event_window_events),
        "TOPCHEF_EVENT_WINDOW_SECONDS": str(settings.event_window_seconds),
        "TOPCHEF_WEBHOOK_SECRET": settings.webhook_secret,
        "TOPCHEF_WEBHOOK_ALLOW_HOSTS": ",".join(settings.webhook_allow_hosts),
        "TOPCHEF_LOG_FORMAT": settings.log_format,
        "TOPCHEF_ACCESS_LOG": "true" if settings.access_log else "false",
    }
