"""HTTP method override: a POST with ``X-HTTP-Method-Override`` runs as that method.

Clients that cannot send PATCH (the TopChef Java client among them) use it.
Only POST is overridden, so a GET can never become a write.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from topchef.api.envelope import failure
from topchef.broker.errors import Problem

OVERRIDE_HEADER = b"x-http-method-override"
OVERRIDABLE = frozenset({"PATCH", "PUT", "DELETE"})


class MethodOverrideMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return

        raw = next((value for name, value in scope["headers"] if name == OVERRIDE_HEADER), None)
        if raw is None:
            await self.app(scope, receive, send)
            return

        method = raw.decode("latin-1").strip().upper()
        if method not in OVERRIDABLE:
            problem = Problem(
                "Invalid Method Override",
                f"X-HTTP-Method-Override {raw.decode('latin-1')!r} is not supported; "
                "use PATCH, PUT or DELETE",
            )
            await failure(400, [problem])(scope, receive, send)
            return

        await self.app({**scope, "method": method}, receive, send)
