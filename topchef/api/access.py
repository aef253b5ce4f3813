"""Bearer tokens with roles: which role each route needs, and the middleware that checks it.

``ROUTE_ROLES`` maps (method, route name) to the role a request needs, or to
PUBLIC for routes anyone may call. A pair the table does not list needs admin,
so a route added without an entry is closed rather than open. The middleware
decides from the request line and headers alone, before the body is read, and
runs after the method override so that an overridden POST is checked as the
method it becomes.
"""

from __future__ import annotations

import contextvars
import logging

from starlette.authentication import AuthCredentials, SimpleUser
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from topchef.api.envelope import failure
from topchef.auth import Role, Token, TokenTable
from topchef.auth.tokens import is_well_formed
from topchef.broker.errors import Problem
from topchef.config import Settings

log = logging.getLogger(__name__)

PUBLIC = None
"""The entry of a route that needs no token."""

ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "root"): Role.READ,
    ("GET", "services"): Role.READ,
    ("POST", "services"): Role.ADMIN,
    ("GET", "service"): Role.READ,
    ("PATCH", "service"): Role.WORK,  # without a body only, see ADMIN_IF_BODY
    ("DELETE", "service"): Role.ADMIN,
    ("POST", "service_unavailable"): Role.ADMIN,
    ("GET", "service_jobs"): Role.READ,
    ("POST", "service_jobs"): Role.SUBMIT,
    ("POST", "batch"): Role.SUBMIT,
    ("GET", "queue"): Role.READ,
    ("GET", "next_job"): Role.READ,
    ("POST", "next_job"): Role.WORK,
    ("GET", "jobs"): Role.READ,
    ("GET", "job"): Role.READ,
    ("PATCH", "job"): Role.WORK,
    ("DELETE", "job"): Role.SUBMIT,
    ("POST", "heartbeat"): Role.WORK,
    ("POST", "fail"): Role.WORK,
    ("POST", "cancel"): Role.SUBMIT,
    ("GET", "validator"): Role.READ,
    ("POST", "validator"): Role.READ,  # validates a document and stores nothing
    ("GET", "events"): Role.READ,
    ("GET", "metrics"): Role.READ,
    ("GET", "healthz"): PUBLIC,
    ("GET", "readyz"): PUBLIC,
    ("GET", "openapi"): PUBLIC,
    ("GET", "docs"): PUBLIC,
    ("GET", "ui"): PUBLIC,  # the page and its static files; its API calls carry a token
}
"""The role each (method, route name) needs; HEAD counts as GET. Unlisted pairs need admin."""
# NOTE: service_unavailable, events, metrics, healthz, readyz, openapi, docs and ui
# name routes that ROUTES does not contain yet. When one arrives under another
# name, it needs admin until listed, and test_every_route_method_listed fails.

ADMIN_IF_BODY = frozenset({("PATCH", "service")})
"""Requests that need admin when they carry a body. A body-less PATCH of a service
is the classic check-in, which workers send, and a body changes its name,
description, availability or settings."""

UNMATCHED_PATH_ROLE = Role.READ
"""A path no route matches needs any valid token, which then gets the usual 404."""

current_token_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_token_name", default=None
)
"""The name of the token of the request being handled, for its log lines."""


def required_role(method: str, route_name: str | None, *, has_body: bool) -> Role | None:
    """Return the role a request needs, or PUBLIC (None) when it needs no token."""
    if route_name is None:
        return UNMATCHED_PATH_ROLE
    key = ("GET" if method == "HEAD" else method, route_name)
    if has_body and key in ADMIN_IF_BODY:
        return Role.ADMIN
    return ROUTE_ROLES.get(key, Role.ADMIN)


def route_name_of(routes: list[BaseRoute], scope: Scope) -> str | None:
    """Return the name of the route that matches the path of ``scope``, whatever its methods."""
    for route in routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            name = getattr(route, "name", None)
            return str(name) if name else ""
    return None


def has_body(scope: Scope) -> bool:
    """Tell from the headers whether a request carries a body (of any length, even ``{}``)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip() not in (b"", b"0"):
            return True
    return False


class BadCredentials(Exception):
    """The Authorization header is missing or does not carry a configured bearer token."""

    def __init__(self, detail: str, *, presented: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.presented = presented


def bearer_token(scope: Scope) -> str:
    """Return the token of the one ``Authorization: Bearer TOKEN`` header, or raise."""
    values: list[bytes] = [value for name, value in scope["headers"] if name == b"authorization"]
    if not values:
        raise BadCredentials("missing Authorization header; send 'Authorization: Bearer TOKEN'",
                             presented=False)
    if len(values) > 1:
        raise BadCredentials("several Authorization headers; send exactly one", presented=True)
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        raise BadCredentials("the Authorization header has non-ASCII bytes",
                             presented=True) from None

    scheme, _, token = text.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise BadCredentials("the Authorization header must use the Bearer scheme: "
                             "'Authorization: Bearer TOKEN'", presented=True)
    token = token.strip(" ")
    if not is_well_formed(token):
        raise BadCredentials("the bearer token is empty, too long or has invalid characters",
                             presented=True)
    return token


def _unauthorized(error: BadCredentials) -> ASGIApp:
    challenge = 'Bearer realm="topchef"'
    if error.presented:
        challenge += ', error="invalid_token"'
    return failure(401, [Problem("Unauthorized", error.detail)],
                   headers={"WWW-Authenticate": challenge})


def _forbidden(token: Token, required: Role, method: str, path: str) -> ASGIApp:
    detail = (f"token {token.name!r} has role {token.role}, and {method} {path} "
              f"needs role {required}")
    return failure(403, [Problem("Forbidden", detail)])


class AccessMiddleware:
    """Reject a request with 401 or 403 in the error envelope unless its token has the needed role.

    On success it sets the Starlette ``user`` (named after the token) and ``auth``
    (the token's role) in the scope, and ``current_token_name`` for log lines.
    """

    def __init__(self, app: ASGIApp, *, tokens: TokenTable) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        method, path = scope["method"], scope["path"]
        route_name = route_name_of(scope["app"].router.routes, scope)
        required = required_role(method, route_name, has_body=has_body(scope))
        if required is PUBLIC:
            await self.app(scope, receive, send)
            return

        try:
            token = self._authenticate(scope)
        except BadCredentials as exc:
            log.info("%s %s rejected with 401: %s", method, path, exc.detail)
            await _unauthorized(exc)(scope, receive, send)
            return
        current_token_name.set(token.name)
        if not token.allows(required):
            log.info("%s %s rejected with 403: token %s has role %s, needs %s",
                     method, path, token.name, token.role, required)
            await _forbidden(token, required, method, path)(scope, receive, send)
            return

        scope["user"] = SimpleUser(token.name)
        scope["auth"] = AuthCredentials([token.role.value])
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> Token:
        token = self.tokens.find(bearer_token(scope))
        if token is None:
            raise BadCredentials("the bearer token is not valid on this server", presented=True)
        return token


def access_middleware(settings: Settings) -> list[Middleware]:
    """Return the token check for the app's middleware list, or nothing when no token is set."""
    if not settings.tokens:
        log.info("access control off: no tokens configured, so every request is allowed")
        return []
    log.info("access control on: %d tokens configured; requests need a bearer token",
             len(settings.tokens))
    return [Middleware(AccessMiddleware, tokens=TokenTable(settings.tokens))]

