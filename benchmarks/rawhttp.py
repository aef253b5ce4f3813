"""A minimal HTTP/1.1 keep-alive client over asyncio streams.

It costs a fraction of httpx per request, so one client process can drive a
server process without becoming the bottleneck. It speaks only what the
benchmarks need: one request at a time per connection, bodies framed by
Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson


class HTTPError(RuntimeError):
    """The server sent a response the benchmark did not expect."""


class Connection:
    """One keep-alive connection to ``host:port``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def send(self, method: str, path: str, body: bytes | None = None) -> None:
        """Write one request without waiting for its response."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self._writer.write(head.encode() + b"\r\n" + (body or b""))
        await self._writer.drain()

    async def receive(self) -> tuple[int, bytes]:
        """Read one response; return its status code and body."""
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        await self.send(method, path, body)
        return await self.receive()

    async def json(self, method: str, path: str, payload: Any = None,
                   *, expect: tuple[int, ...] = (200, 201)) -> Any:
        """Send ``payload`` as JSON; return the decoded body, or None for an empty body."""
        body = None if payload is None else orjson.dumps(payload)
        status, response = await self.request(method, path, body)
        if status not in expect:
            raise HTTPError(f"{method} {path} returned {status}: {response[:300]!r}")
        return orjson.loads(response) if response else None

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
