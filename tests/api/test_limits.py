"""Request limits: body size, nesting depth and JSON that is not strictly JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.test_contract import ADD_ONE
from topchef.api import create_app
from topchef.config import Settings

BODY_LIMIT = 2048
DEPTH_LIMIT = 8


@pytest.fixture
async def limited(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with small limits, so the tests need no large bodies."""
    settings = Settings(database_url=sqlite_url, max_body_bytes=BODY_LIMIT,
                        max_json_depth=DEPTH_LIMIT)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_oversize_body_is_413(limited: httpx.AsyncClient) -> None:
    body = {**ADD_ONE, "description": "x" * BODY_LIMIT}

    response = await limited.post("/services", json=body)
    services = (await limited.get("/services")).json()["data"]

    assert response.status_code == 413
    assert response.json()["errors"][0]["title"] == "Payload Too Large"
    assert services == []


async def test_oversize_stream_is_413(limited: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(BODY_LIMIT // 100 + 1):
            yield b"x" * 100

    response = await limited.post("/services", content=chunks(),
                                  headers={"Content-Type": "application/json"})

    assert response.status_code == 413


async def test_body_at_limit_accepted(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/services", json=ADD_ONE)

    assert response.status_code == 201


async def test_deep_nesting_rejected(limited: httpx.AsyncClient) -> None:
    service_id = (await limited.post("/services", json=ADD_ONE)).json()["data"]["id"]

    too_deep = await limited.post("/validator",
                                  json={"schema": {}, "object": nested(DEPTH_LIMIT)})
    deep_enough = await limited.post("/validator",
                                     json={"schema": {}, "object": nested(DEPTH_LIMIT - 2)})
    jobs = await limited.get(f"/services/{service_id}/jobs")

    assert too_deep.status_code == 400
    assert too_deep.json()["errors"][0]["title"] == "Request Too Deeply Nested"
    assert deep_enough.status_code == 200
    assert jobs.json()["data"] == []


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_finite_numbers_rejected(limited: httpx.AsyncClient, literal: bytes) -> None:
    body = b'{"schema": {}, "object": ' + literal + b"}"

    response = await limited.post("/validator", content=body,
                                  headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "Request Not JSON"
