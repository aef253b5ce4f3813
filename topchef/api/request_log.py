"""One log line and one metrics sample per HTTP request.

The line has the method, the path without its query string, the status, the
duration in milliseconds and the job or service id the path names. It never
contains headers (so no Authorization) or bodies (so no parameters or results).
This replaces uvicorn's access log, which the server turns off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topchef.api.access import current_token_name
from topchef.api.metrics import Metrics

log = logging.getLogger("topchef.requests")

UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched, so stray paths add no new label values."""
PATH_ID_FIELDS = ("job_id", "service_id")
STATUS_BEFORE_RESPONSE = 500
"""The status recorded when the application raised before it started a response."""


class RequestLogMiddleware:
    """Time each request, then log it (when ``log_requests``) and count it in ``metrics``."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = STATUS_BEFORE_RESPONSE

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route, path_params = self._match(scope)
        method: str = scope["method"]
        self.metrics.observe_request(route=route, method=method, status=status, seconds=seconds)
        if not self.log_requests:
            return

        fields: dict[str, object] = {
            "method": method,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "route": route,
        }
        fields.update({name: str(path_params[name]) for name in PATH_ID_FIELDS
                       if name in path_params})
        token_name = current_token_name.get()
        if token_name is None:
            log.info("%s %s %d %.1f ms", method, scope["path"], status, fields["duration_ms"],
                     extra=fields)
            return

        # The token's name, never the token, identifies who made the request.
        fields["token"] = token_name
        log.info("%s %s %d %.1f ms token=%s", method, scope["path"], status,
                 fields["duration_ms"], token_name, extra=fields)

    def _match(self, scope: Scope) -> tuple[str, dict[str, object]]:
        """Return the name of the route that serves the request's path, and its path parameters."""
        routes: Sequence[BaseRoute] = scope["app"].routes
        for route in routes:
            match, child_scope = route.matches(scope)
            if match != Match.NONE:
                name = getattr(route, "name", None) or UNMATCHED_ROUTE
                return name, dict(child_scope.get("path_params", {}))
        return UNMATCHED_ROUTE, {}
