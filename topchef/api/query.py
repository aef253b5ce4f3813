"""Query parameters: views, paging cursors, filters and waits."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from starlette.requests import Request

from topchef.api.schemas import MAX_WAIT_SECONDS
from topchef.broker import InvalidInput, JobStatus, Problem

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
VIEWS = ("classic", "full")
_CURSOR_PREFIX = "after:"
MAX_SEQ = 2**63 - 1
"""The largest job ``seq``, a signed 64-bit column on PostgreSQL."""


class InvalidQuery(InvalidInput):
    default_title = "Invalid Query Parameter"


def view(request: Request) -> str:
    """Return ``classic`` (the default, strict fields) or ``full`` (every field)."""
    value = request.query_params.get("view", "classic")
    if value not in VIEWS:
        raise InvalidQuery(f"view={value!r} is unknown; use view=classic or view=full")
    return value


def _number(request: Request, name: str, *, default: float, low: float, high: float) -> float:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InvalidQuery(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise InvalidQuery(f"{name}={text} is out of range; use {low:g} to {high:g}")
    return value


def page_size(request: Request) -> int:
    value = _number(request, "limit", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    if value != int(value):
        raise InvalidQuery(f"limit={value:g} is not a whole number")
    return int(value)


def wait_seconds(request: Request) -> float:
    return _number(request, "wait_seconds", default=0, low=0, high=MAX_WAIT_SECONDS)


def encode_cursor(after_seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after_seq}".encode()).decode().rstrip("=")


def cursor(request: Request) -> int:
    """Return the ``seq`` a page continues after; 0 without a cursor."""
    text = request.query_params.get("cursor")
    if text is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        if decoded.startswith(_CURSOR_PREFIX):
            after_seq = int(decoded[len(_CURSOR_PREFIX):])
            if 0 <= after_seq <= MAX_SEQ:
                return after_seq
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidQuery(f"cursor={text!r} is not a cursor this server issued; "
                       "use the links.next URL of the previous page")


def statuses(request: Request) -> Sequence[JobStatus]:
    """Return the statuses named by ``status`` (comma-separated, any letter case)."""
    found: list[JobStatus] = []
    for text in request.query_params.getlist("status"):
        if not text.strip():
            raise InvalidQuery(Problem("Invalid Status", "status= is empty; name a status such "
                                       "as status=REGISTERED, or leave the parameter out"))
        for name in filter(None, (part.strip() for part in text.split(","))):
            status = JobStatus.parse(name)
            if status is None:
                known = ", ".join(s.value for s in JobStatus)
                raise InvalidQuery(Problem("Invalid Status",
                                           f"status={name!r} is unknown; use one of {known}"))
            found.append(status)
    return found


def flag(request: Request, name: str) -> bool:
    text = request.query_params.get(name, "false").lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidQuery(f"{name}={text!r} is not a boolean; use true or false")


def next_link(request: Request, after_seq: int | None) -> dict[str, str]:
    """Return ``{"next": URL}`` for the page after ``after_seq``, or nothing on the last page."""
    if after_seq is None:
        return {}
    return {"next": str(request.url.include_query_params(cursor=encode_cursor(after_seq)))}
