"""Cross-origin requests from browsers: off unless origins are configured."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from topchef.config import Settings

CORS_METHODS = ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID",
                        "X-HTTP-Method-Override")
CORS_EXPOSED_HEADERS = ("Location", "Retry-After")


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Return Starlette's CORS middleware for the configured origins, or nothing when none is set.

    Tokens travel in the Authorization header, not in cookies, so credentials
    (cookies) stay off.
    """
    if not settings.cors_origins:
        return []
    return [Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=CORS_METHODS, allow_headers=CORS_REQUEST_HEADERS,
                       expose_headers=CORS_EXPOSED_HEADERS)]
