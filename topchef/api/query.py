"""Query parameters: views, paging cursors, filters and waits."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from starlette.requests import Request

from topchef.api.schemas import MAX_WAIT_SECONDS
from topchef.broker import InvalidInput, JobStatus, Problem

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
VIEWS = ("classic", "full")
ORDERS = ("oldest", "newest")
_CURSOR_PREFIX = "after:"
_NEWEST_CURSOR_PREFIX = "before:"
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


def newest_first(request: Request) -> bool:
    """Return whether ``order=newest`` requests newest jobs first (default ``order=oldest``)."""
    value = request.query_params.get("order", "oldest")
    if value not in ORDERS:
        raise InvalidQuery(f"order={value!r} is unknown; use order=oldest or order=newest")
    return value == "newest"


def _cursor_prefix(newest: bool) -> str:
    return _NEWEST_CURSOR_PREFIX if newest else _CURSOR_PREFIX


def encode_cursor(after_seq: int, *, newest: bool = False) -> str:
    text = f"{_cursor_prefix(newest)}{after_seq}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor(request: Request, *, newest: bool = False) -> int:
    """Return the ``seq`` a page continues after in its order; 0 without a cursor.

    A cursor records the order it was issued for, so one from an ``order=oldest``
    listing is rejected in an ``order=newest`` one and the other way round.
    """
    text = request.query_params.get("cursor")
    if text is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except ValueError:
        # binascii.Error for bad base64, and ValueError for a cursor with non-ASCII characters.
        decoded = ""
    prefix = _cursor_prefix(newest)
    digits = decoded[len(prefix):]
    if decoded.startswith(prefix) and digits.isascii() and digits.isdigit() and len(digits) <= 19:
        seq = int(digits)
        if 0 <= seq <= MAX_SEQ:
            return seq
    if decoded.startswith(_cursor_prefix(not newest)):
        issued_for = "oldest" if newest else "newest"
        raise InvalidQuery(f"cursor={text!r} was issued for order={issued_for}; "
                           "use the links.next URL of the previous page")
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


def next_link(
    request: Request, after_seq: int | None, *, newest: bool = False
) -> dict[str, str]:
    """Return ``{"next": URL}`` for the page after ``after_seq``, or nothing on the last page."""
    if after_seq is None:
        return {}
    next_cursor = encode_cursor(after_seq, newest=newest)
    return {"next": str(request.url.include_query_params(cursor=next_cursor))}
