"""The role table, the Authorization header parser, and the settings that carry tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.routing import Mount, Route

from topchef.api import create_app
from topchef.api.access import (
    ROUTE_ROLES,
    BadCredentials,
    bearer_token,
    has_body,
    required_role,
)
from topchef.api.app import ROUTES
from topchef.auth import Role, Token
from topchef.auth.tokens import digest_of
from topchef.config import Settings, settings_from_environment, settings_to_environment

WORK_TOKEN = "work-token"
ADMIN_TOKEN = "admin-token"
TOKENS = (Token(Role.WORK, "worker-1", digest_of(WORK_TOKEN)),
          Token(Role.ADMIN, "alice", digest_of(ADMIN_TOKEN)))


def test_every_route_method_listed() -> None:
    for route in ROUTES:
        if isinstance(route, Mount):  # static files, read with GET and HEAD
            assert ("GET", route.name) in ROUTE_ROLES, f"mount {route.name} has no entry"
            continue
        assert isinstance(route, Route)
        for method in route.methods or ():
            key = ("GET" if method == "HEAD" else method, route.name)
            assert key in ROUTE_ROLES, f"{key} has no entry in ROUTE_ROLES"


@pytest.mark.parametrize(("method", "route", "body", "expected"), [
    ("GET", "jobs", False, Role.READ),
    ("HEAD", "jobs", False, Role.READ),
    ("POST", "validator", True, Role.READ),
    ("POST", "services", True, Role.ADMIN),
    ("DELETE", "service", False, Role.ADMIN),
    ("POST", "service_unavailable", False, Role.ADMIN),
    ("POST", "service_jobs", True, Role.SUBMIT),
    ("POST", "batch", True, Role.SUBMIT),
    ("DELETE", "job", False, Role.SUBMIT),
    ("POST", "cancel", False, Role.SUBMIT),
    ("POST", "next_job", True, Role.WORK),
    ("POST", "heartbeat", True, Role.WORK),
    ("POST", "fail", True, Role.WORK),
    ("PATCH", "job", True, Role.WORK),
    ("PATCH", "service", False, Role.WORK),
    ("PATCH", "service", True, Role.ADMIN),
    ("GET", "events", False, Role.READ),
    ("GET", "metrics", False, Role.READ),
    ("GET", "healthz", False, None),
    ("GET", "readyz", False, None),
    ("GET", "openapi", False, None),
    ("GET", "docs", False, None),
    ("GET", "ui", False, None),
    ("HEAD", "ui", False, None),
    ("POST", "ui", True, Role.ADMIN),
    ("PUT", "job", True, Role.ADMIN),
    ("GET", "a_route_nobody_listed", False, Role.ADMIN),
    ("OPTIONS", "jobs", False, Role.ADMIN),
    ("GET", None, False, Role.READ),
])
def test_required_role(method: str, route: str | None, body: bool,
                       expected: Role | None) -> None:
    assert required_role(method, route, has_body=body) == expected


@pytest.mark.parametrize(("headers", "expected"), [
    ([], False),
    ([(b"content-length", b"0")], False),
    ([(b"content-length", b"2")], True),
    ([(b"transfer-encoding", b"chunked")], True),
])
def test_has_body(headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert has_body({"headers": headers}) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (b"Bearer abc", "abc"),
    (b"bearer abc", "abc"),
    (b"BEARER   abc.def-ghi_jkl~mno+p/q==", "abc.def-ghi_jkl~mno+p/q=="),
])
def test_bearer_token_accepted(value: bytes, expected: str) -> None:
    assert bearer_token({"headers": [(b"authorization", value)]}) == expected


@pytest.mark.parametrize("headers", [
    [],
    [(b"authorization", b"Basic YWxpY2U6cHc=")],
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Bearer a b")],
    [(b"authorization", b"Bearer a=b")],
    [(b"authorization", "Bearer t\u00f6ken".encode())],
    [(b"authorization", b"Bearer " + b"a" * 600)],
    [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
])
def test_bearer_token_rejected(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(BadCredentials):
        bearer_token({"headers": headers})


def test_settings_round_trip_keeps_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url="sqlite:///x.db", tokens=TOKENS,
                        cors_origins=("https://a.example", "http://b.example:8080"))

    environment = settings_to_environment(settings)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert WORK_TOKEN not in environment["TOPCHEF_TOKENS"]
    rebuilt = settings_from_environment()
    assert rebuilt.tokens == settings.tokens
    assert rebuilt.cors_origins == settings.cors_origins


@pytest.fixture
async def guarded(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that accepts TOKENS, sending no token by default."""
    app = create_app(Settings(database_url=sqlite_url, tokens=TOKENS))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_override_checked_as_patch(guarded: httpx.AsyncClient) -> None:
    created = await guarded.post("/services", headers=bearer(ADMIN_TOKEN), json={
        "name": "s", "description": "", "job_registration_schema": {}, "job_result_schema": {},
    })
    service = f"/services/{created.json()['data']['id']}"

    check_in = await guarded.post(service, headers={**bearer(WORK_TOKEN),
                                                    "X-HTTP-Method-Override": "PATCH"})
    rename = await guarded.post(service, json={"name": "renamed"},
                                headers={**bearer(WORK_TOKEN), "X-HTTP-Method-Override": "PATCH"})
    delete = await guarded.post(service, headers={**bearer(WORK_TOKEN),
                                                  "X-HTTP-Method-Override": "DELETE"})

    assert check_in.status_code == 200
    assert rename.status_code == 403
    assert "needs role admin" in rename.json()["errors"][0]["detail"]
    assert delete.status_code == 403
    assert (await guarded.get(service, headers=bearer(WORK_TOKEN))).json()["data"]["name"] == "s"


async def test_open_app_needs_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/services")).status_code == 200


async def test_cors_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/services", headers={"Origin": "https://a.example"})

    assert "access-control-allow-origin" not in response.headers
