"""A schema naming another document is rejected, and the server never fetches it.

A schema server of the test's own listens on 127.0.0.1 and counts every
connection it accepts, so a fetch attempt in any form (HTTP, or a TLS
handshake for https) would show.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_contract import ADD_ONE

REFERENCED = {"type": "object", "properties": {"value": {"type": "integer"}}}


class CountingServer(ThreadingHTTPServer):
    """Serves REFERENCED at every path and counts the connections it accepts."""

    connections = 0

    def get_request(self) -> tuple[socket.socket, Any]:
        self.connections += 1
        return super().get_request()


class SchemaHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(REFERENCED).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[CountingServer]:
    server = CountingServer(("127.0.0.1", 0), SchemaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def address(server: CountingServer) -> str:
    host, port = server.server_address[:2]
    return f"{host!s}:{port}"


def remote_schemas(server: CountingServer, local_file: Path) -> list[dict[str, Any]]:
    where = address(server)
    return [
        {"$ref": f"http://{where}/schema.json"},
        {"properties": {"x": {"$ref": f"http://{where}/schema.json#/properties/value"}}},
        {"$ref": f"https://{where}/schema.json"},
        {"$ref": local_file.as_uri()},
        {"$schema": "http://json-schema.org/draft-07/schema#", "$id": f"http://{where}/root.json",
         "properties": {"x": {"$ref": "other.json"}}},
        {"$schema": "https://json-schema.org/draft/2020-12/schema",
         "$dynamicRef": f"http://{where}/schema.json"},
        {"$schema": f"http://{where}/my-draft#"},
    ]


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(REFERENCED))
    return path


async def test_service_with_remote_ref_rejected(
    client: httpx.AsyncClient, schema_server: CountingServer, local_file: Path
) -> None:
    for schema in remote_schemas(schema_server, local_file):
        response = await client.post("/services",
                                     json={**ADD_ONE, "job_registration_schema": schema})

        assert response.status_code == 400, (schema, response.text)
        entry = response.json()["errors"][0]
        assert entry["title"] == "Invalid Schema", schema
        assert "job_registration_schema" in entry["detail"], schema

    services = (await client.get("/services")).json()["data"]
    assert services == []
    assert schema_server.connections == 0


async def test_validator_with_remote_ref_rejected(
    client: httpx.AsyncClient, schema_server: CountingServer, local_file: Path
) -> None:
    for schema in remote_schemas(schema_server, local_file):
        response = await client.post("/validator", json={"schema": schema, "object": {}})

        assert response.status_code == 400, (schema, response.text)
        assert response.json()["errors"][0]["title"] == "Invalid Schema", schema

    assert schema_server.connections == 0


def test_counting_server_counts(schema_server: CountingServer) -> None:
    """The guard can fail: a real fetch of the schema server is counted."""
    response = httpx.get(f"http://{address(schema_server)}/schema.json")

    assert response.json() == REFERENCED
    assert schema_server.connections == 1
