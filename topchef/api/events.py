"""``GET /events``: the event journal as a Server-Sent Events stream.

Each event is sent as ``id``, ``event`` (its type) and one ``data`` line of
JSON. A stream starts with a ``retry:`` hint, sends ``: keep-alive`` comment
lines when it has been quiet for a while, and ends when the client leaves or
the server stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from topchef.api.query import InvalidQuery
from topchef.api.state import broker_of
from topchef.broker import Problem
from topchef.broker.journal import EventRecord
from topchef.broker.stream import EventFilter, KeepAlive, Reset, StreamItem

MAX_FILTER_IDS = 100
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx buffers responses by default, which would hold events back.
    "X-Accel-Buffering": "no",
}


def filter_ids(request: Request, name: str) -> frozenset[UUID]:
    """Return the ids given as ``?name=ID`` (repeated or comma-separated)."""
    found: set[UUID] = set()
    for text in request.query_params.getlist(name):
        parts = [part.strip() for part in text.split(",")]
        for part in parts:
            try:
                found.add(UUID(part))
            except ValueError:
                raise InvalidQuery(Problem(
                    "Invalid Filter", f"{name}={part!r} is not a {name} id (a UUID)")) from None
    if len(found) > MAX_FILTER_IDS:
        raise InvalidQuery(Problem(
            "Invalid Filter", f"{len(found)} {name} ids given; a stream takes at most "
            f"{MAX_FILTER_IDS}, so open several streams or drop the filter"))
    return frozenset(found)


def resume_after(request: Request) -> int | None:
    """Return the id to resume after: the Last-Event-ID header, else ``?after``, else None."""
    for text, source in ((request.headers.get("last-event-id"), "the Last-Event-ID header"),
                         (request.query_params.get("after"), "after")):
        if text is None:
            continue
        if not text.isdigit() or len(text) > 18:
            raise InvalidQuery(Problem(
                "Invalid Event Id", f"{source} {text!r} is not an event id (a whole number "
                "from 0 up); send the id of the last event received, or 0 to replay"))
        return int(text)
    return None


def encode(item: StreamItem) -> bytes:
    """Return one stream item in the Server-Sent Events wire format."""
    if isinstance(item, KeepAlive):
        return b": keep-alive\n\n"
    if isinstance(item, Reset):
        data = {"type": "reset", "after": item.after, "resume_after": item.resume_after,
                "oldest": item.oldest,
                "detail": "the requested event id is outside the retained window; events "
                          "were missed, so reload the current state"}
        return b"id: %d\nevent: reset\ndata: %s\n\n" % (item.resume_after, orjson.dumps(data))
    return _event_bytes(item)


def _event_bytes(record: EventRecord) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        record.seq, record.type.value.encode(), orjson.dumps(record.to_json()))


async def _set_when_disconnected(request: Request, stop: asyncio.Event) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            stop.set()
            return


async def stream_events(request: Request) -> Response:
    broker = broker_of(request)
    event_filter = EventFilter(service_ids=filter_ids(request, "service"),
                               job_ids=filter_ids(request, "job"))
    after = resume_after(request)

    async def body() -> AsyncIterator[bytes]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(_set_when_disconnected(request, stop))
        try:
            yield b"retry: %d\n\n" % broker.feed.settings.retry_ms
            async for item in broker.feed.follow(after, event_filter, stop=stop):
                yield encode(item)
        finally:
            watcher.cancel()

    return StreamingResponse(body(), media_type="text/event-stream", headers=STREAM_HEADERS)
