"""A small Server-Sent Events reader for tests: a thread parses the stream into a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

STREAM_OPEN_TIMEOUT_SECONDS = 10


@dataclass
class Message:
    """One dispatched SSE message, or a comment line (``comment`` set, the rest empty)."""

    event: str = "message"
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comment: str | None = None
    raw: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


class EventReader:
    """Read ``GET /events`` in a background thread; use as a context manager."""

    def __init__(self, base_url: str, *, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.url = base_url + "/events"
        self.params = params or {}
        self.headers = headers or {}
        self.messages: queue.Queue[Message] = queue.Queue()
        self.status_code: int | None = None
        self.response_headers: httpx.Headers | None = None
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> EventReader:
        self._thread.start()
        if not self._opened.wait(STREAM_OPEN_TIMEOUT_SECONDS):
            raise TimeoutError(f"no response from {self.url} within "
                               f"{STREAM_OPEN_TIMEOUT_SECONDS} s")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client, client.stream(
                "GET", self.url, params=self.params, headers=self.headers
            ) as response:
                self.status_code = response.status_code
                self.response_headers = response.headers
                self._opened.set()
                self._parse(response)
        except BaseException as exc:  # reported to the test through ``error``
            self.error = exc
        finally:
            self._opened.set()

    def _parse(self, response: httpx.Response) -> None:
        current = Message()
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if current.raw:
                    self.messages.put(current)
                current = Message()
                continue
            current.raw.append(line)
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.messages.put(Message(comment=value, raw=[line]))
                current.raw.pop()
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value
            elif name == "data":
                current.data = value if not current.data else current.data + "\n" + value
            elif name == "retry":
                current.retry = int(value)

    def wait_closed(self, timeout: float) -> bool:
        """Wait for the server to end the stream; return whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def next(self, timeout: float = 10) -> Message:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout} s (error: {self.error!r})") from None

    def events(self, until: Callable[[Message], bool], timeout: float = 15) -> list[Message]:
        """Collect events, without comments and hints, up to the first that matches ``until``."""
        collected: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.01, deadline - time.monotonic()))
            if message.comment is not None or message.data == "":
                continue
            collected.append(message)
            if until(message):
                return collected
