"""/openapi.json against the live routes, its examples against its schemas, and /docs."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from topchef.api.app import ROUTES
from topchef.api.openapi import is_served
from topchef.api.openapi_operations import OPERATIONS
from topchef.broker.schemas import CompiledSchema
from topchef.ui import dashboard_routes

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def route_operations() -> set[tuple[str, str]]:
    """Return (method, path) for every route the app serves; HEAD comes with GET and is left out.

    A mount of static files, such as the dashboard's, serves GET under ``{path}``.
    """
    operations = {
        (method, route.path)
        for route in [*ROUTES, *dashboard_routes()]
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }
    operations |= {("GET", f"{route.path}/{{path}}")
                   for route in dashboard_routes() if isinstance(route, Mount)}
    return operations


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def examples(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """Return (where, schema, example) for every example in request bodies and responses."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(f"response {code}", response)
                       for code, response in operation["responses"].items()]
            for role, body in bodies:
                for media in body.get("content", {}).values():
                    if "example" in media:
                        found.append((f"{method.upper()} {path} {role}", media["schema"],
                                      media["example"]))
    return found


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_document_is_openapi_31(document: dict[str, Any]) -> None:
    operation_ids = [operation["operationId"] for item in document["paths"].values()
                     for operation in item.values()]

    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "TopChef"
    assert len(operation_ids) == len(set(operation_ids))


async def test_every_route_documented(document: dict[str, Any]) -> None:
    missing = route_operations() - document_operations(document)

    assert not missing, f"routes without an operation in topchef/api/openapi_operations.py: "\
        f"{sorted(missing)}"


async def test_document_lists_only_routes(document: dict[str, Any]) -> None:
    extra = document_operations(document) - route_operations()

    assert not extra, f"documented but not served: {sorted(extra)}"


def test_every_operation_served() -> None:
    routes = [*ROUTES, *dashboard_routes()]
    unserved = {(operation.method, operation.path) for operation in OPERATIONS
                if not is_served(operation, routes)}

    assert not unserved, f"documented but not routed: {sorted(unserved)}"


async def test_path_parameters_declared(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for operation in item.values():
            declared = {parameter["name"] for parameter in operation.get("parameters", [])
                        if parameter["in"] == "path"}
            assert declared == names, path


async def test_examples_match_their_schemas(document: dict[str, Any]) -> None:
    found = examples(document)

    assert len(found) >= 20
    for where, schema, example in found:
        violations = list(CompiledSchema(schema).violations(example))
        assert not violations, f"{where}: {[v.describe('example') for v in violations]}"


async def test_every_request_body_has_example(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                media = operation["requestBody"]["content"]["application/json"]
                assert "example" in media, f"{method.upper()} {path}"


async def test_request_example_accepted_by_server(client: httpx.AsyncClient,
                                                  document: dict[str, Any]) -> None:
    media = document["paths"]["/services"]["post"]["requestBody"]["content"]["application/json"]

    response = await client.post("/services", json=media["example"])

    assert response.status_code == 201, response.text


async def test_docs_page_is_self_contained(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'fetch("openapi.json")' in response.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)
    assert "https://" not in response.text
    assert "http://" not in response.text
