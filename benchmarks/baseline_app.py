"""The baseline: a bare ASGI endpoint that echoes a JSON POST, served like ``topchef serve``.

It decodes the body with orjson and sends it back, on the same uvicorn with
the same options as the TopChef server (loop and HTTP parser chosen by
uvicorn, no server header, no access log). Its request rate is a ceiling
that no TopChef endpoint can beat on the same machine.

Run as ``python -m benchmarks.baseline_app --host 127.0.0.1 --port PORT``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import uvicorn

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def echo_app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """Echo each request's JSON body, decoded and encoded again ({} for an empty body)."""
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return

    chunks = []
    more_body = True
    while more_body:
        message = await receive()
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    body = b"".join(chunks)

    document = orjson.loads(body) if body else {}
    response = orjson.dumps(document)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(response)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": response})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    # The options of topchef.cli._run_uvicorn with SERVER_OPTIONS applied.
    uvicorn.run(echo_app, host=arguments.host, port=arguments.port, log_level="warning",
                access_log=False, server_header=False, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
