"""Reading requests: JSON bodies, body schemas and ids in paths."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from starlette.requests import Request

from topchef.api.strict_json import check_strict_json, number_out_of_range
from topchef.broker.errors import InvalidInput, NotFound, Problem
from topchef.broker.schemas import CompiledSchema

MAX_ECHO_CHARS = 80
"""How much of a rejected body an error message quotes back."""


class RequestNotJSON(InvalidInput):
    default_title = "Request Not JSON"


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _quote(body: bytes) -> str:
    text = body[:MAX_ECHO_CHARS].decode("utf-8", errors="replace")
    suffix = "..." if len(body) > MAX_ECHO_CHARS else ""
    return f"{text!r}{suffix}"


class PayloadTooLarge(InvalidInput):
    default_title = "Payload Too Large"


class TooDeeplyNested(InvalidInput):
    default_title = "Request Too Deeply Nested"


async def _read_body(request: Request) -> bytes:
    """Read the body, stopping as soon as it passes the server's size limit."""
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body has {declared} bytes; this server accepts at most "
                              f"{limit} (topchef serve --max-body-bytes)")

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body passed {limit} bytes, the most this server "
                                  "accepts (topchef serve --max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_depth(value: Any, limit: int) -> None:
    """Raise TooDeeplyNested if arrays and objects nest deeper than ``limit`` levels.

    The body object itself is level 1. The walk goes level by level, so it
    needs no recursion however deep the body is.
    """
    level: list[Any] = [value]
    depth = 1
    while True:
        children = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
        if not children:
            return
        depth += 1
        if depth > limit:
            raise TooDeeplyNested(
                f"the body nests arrays and objects deeper than {limit} levels"
            )
        level = children


def _check_text_fields(body: dict[str, Any]) -> None:
    """Reject U+0000 in the body's own string fields: names, descriptions, worker, lease, reason.

    PostgreSQL text columns cannot store U+0000, so both stores reject it
    alike. Strings nested in parameters, results and schemas keep it, because
    those are stored as JSON text with the character escaped.
    """
    fields = [name for name, item in body.items() if isinstance(item, str) and "\x00" in item]
    if fields:
        raise InvalidInput(*(
            Problem("Invalid Request",
                    f"/{name} contains the character U+0000 (NUL), which text fields may not "
                    "contain; remove it, or send the text inside parameters or results")
            for name in fields
        ))


async def read_json_object(request: Request, *, optional: bool = False) -> dict[str, Any] | None:
    """Return the body as a JSON object, or None for an empty body when ``optional``.

    Raise RequestNotJSON for another content type, a body that is not JSON, or
    JSON that is not an object. Raise PayloadTooLarge (413) past the size limit,
    TooDeeplyNested past the nesting limit, and DuplicateKey or NumberOutOfRange
    for JSON that orjson would read as something other than what was sent.
    """
    body = await _read_body(request)
    if not body.strip():
        if optional:
            return None
        raise RequestNotJSON("the request has no body; send a JSON object")

    content_type = request.headers.get("content-type", "")
    if not _is_json_media_type(content_type):
        received = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise RequestNotJSON(
            f"expected Content-Type application/json, received {received} "
            f"with body {_quote(body)}"
        )

    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        overflow = number_out_of_range(body) if "infinity" in str(exc) else None
        if overflow is not None:
            raise overflow from exc
        _check_utf8(body)
        raise RequestNotJSON(f"the body is not valid JSON ({exc}): {_quote(body)}") from exc

    if not isinstance(value, dict):
        raise RequestNotJSON(
            f"the body must be a JSON object, received {json_type_name(value)} {_quote(body)}"
        )
    _check_depth(value, request.app.state.settings.max_json_depth)
    check_strict_json(body, value)
    _check_text_fields(value)
    return value


async def required_json_object(request: Request) -> dict[str, Any]:
    """Return the body as a JSON object; an empty body is an error."""
    body = await read_json_object(request)
    assert body is not None  # read_json_object returns None only when optional
    return body


def json_type_name(value: Any) -> str:
    """Return the JSON name of a decoded value's type: object, array, string, number, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def check_body(body: dict[str, Any], schema: CompiledSchema) -> None:
    """Raise InvalidInput with one problem per way ``body`` breaks its published schema."""
    found = schema.violations(body)
    if found:
        raise InvalidInput(*(Problem("Invalid Request", v.describe("body")) for v in found))


class InvalidId(NotFound):
    default_title = "Not Found"


def path_id(request: Request, name: str) -> UUID:
    """Return the path parameter ``name`` as a UUID; a malformed id is a 404 like an unknown one."""
    text = request.path_params[name]
    try:
        if not text.isascii():  # UUID() reads digits of other scripts, such as U+0661, as 0-9
            raise ValueError(text)
        return UUID(text)
    except ValueError:
        raise InvalidId(f"{_echo_id(text)!r} is not a valid id; ids are UUIDs") from None


def _echo_id(text: str) -> str:
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "..."


def _check_utf8(body: bytes) -> None:
    """Raise RequestNotJSON naming the first byte that is not UTF-8, where there is one.

    orjson reports such a byte as "surrogates not allowed", which misleads.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestNotJSON(
            f"the body is not valid UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start} "
            "cannot start or continue a character; send JSON encoded as UTF-8"
        ) from None
