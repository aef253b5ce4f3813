"""Reading requests: JSON bodies, body schemas and ids in paths."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from starlette.requests import Request

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


async def read_json_object(request: Request, *, optional: bool = False) -> dict[str, Any] | None:
    """Return the body as a JSON object, or None for an empty body when ``optional``.

    Raise RequestNotJSON for another content type, a body that is not JSON, or
    JSON that is not an object.
    """
    body = await request.body()
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
        raise RequestNotJSON(f"the body is not valid JSON ({exc}): {_quote(body)}") from exc

    if not isinstance(value, dict):
        raise RequestNotJSON(
            f"the body must be a JSON object, received {json_type_name(value)} {_quote(body)}"
        )
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
        return UUID(text)
    except ValueError:
        raise InvalidId(f"{text!r} is not a valid id; ids are UUIDs") from None
